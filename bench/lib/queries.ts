// The operations the benchmarks send (kept here rather than imported from test/, which may change under us).

export const JOB_FIELDS = /* GraphQL */ `
  id upstreamId status isFinal createdAt updatedAt
  request { input output { destination format numberOfImages } options { prompt model aspectRatio inferenceSteps guidanceScale } }
  errors { message createdAt }
  result {
    inputObject { ext mps mime format width height }
    outputObjects { ext mps mime format width height tmpUrl objectKey objectBucket objectUri claidStorageUri expiresAt }
  }
  history { status at }
`;

export const SUBMIT = /* GraphQL */ `
  mutation Submit($input: SubmitAiEditInput!) {
    submitAiEdit(input: $input) { job { id upstreamId status createdAt } }
  }
`;

export const READ = /* GraphQL */ `
  query Read($id: ID!) { aiEditJob(id: $id) { ${JOB_FIELDS} } }
`;

export const UPDATED = /* GraphQL */ `
  subscription Updated($id: ID!) {
    aiEditJobUpdated(id: $id) { id status isFinal updatedAt errors { message } result { outputObjects { tmpUrl width height } } history { status } }
  }
`;

/** A submit input that makes the simulator render one small output (V1, 1:1 is 1024x1024, about 90 ms of CPU). */
export const smallEdit = (sampleUrl: string, i: number) => ({
  input: sampleUrl,
  output: { format: 'JPEG', numberOfImages: 1 },
  options: { prompt: `add a duck #${i}`, model: 'V1', aspectRatio: 'RATIO_1_1' },
});

/** The same request in Claid's wire shape, for POSTs straight to the simulator. */
export const smallEditWire = (input: string, i: number) => ({
  input,
  output: { format: 'jpeg', number_of_images: 1 },
  options: { prompt: `add a duck #${i}`, model: 'v1', aspect_ratio: '1:1' },
});
