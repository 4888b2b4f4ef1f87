import { SubmitAiEditDocument, UploadImageDocument } from '../../../client/gql/graphql.js';
import { type EditFormValues, toSubmitInput } from '../form/edit-form.js';
import { ApiError } from './errors.js';
import { execute, executeWithFile } from './graphql.js';

// A submit as the user sees it: a sample or a file goes up first (uploadImage, one multipart request) and its
// signed URL becomes the job's input; a typed URL goes as it is.

export type SubmitStep = 'Uploading…' | 'Submitting…';

export async function submitEdit(
  values: EditFormValues,
  apiKey: string,
  onStep: (step: SubmitStep) => void,
): Promise<{ jobId: string }> {
  const source = values.source;
  if (!source) throw new Error('no image chosen');
  let inputUrl: string;
  if (source.kind === 'url') {
    inputUrl = source.url.trim();
  } else {
    onStep('Uploading…');
    const { file, name } =
      source.kind === 'file' ? { file: source.file, name: source.file.name } : await fetchSample(source.path);
    const uploaded = await executeWithFile(UploadImageDocument, {}, 'file', file, name, apiKey).catch(
      (error: unknown) => {
        // A body over MAX_UPLOAD_BYTES + MAX_BODY_BYTES is refused before it is read (413): that too is the file's.
        throw error instanceof ApiError && error.code === 'REQUEST_ENTITY_TOO_LARGE' ? error.about('file') : error;
      },
    );
    inputUrl = uploaded.uploadImage.url;
  }
  onStep('Submitting…');
  const { submitAiEdit } = await execute(SubmitAiEditDocument, { input: toSubmitInput(values, inputUrl) }, apiKey);
  return { jobId: submitAiEdit.job.id };
}

async function fetchSample(path: string): Promise<{ file: Blob; name: string }> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`the sample ${path} is missing (HTTP ${response.status})`);
  return { file: await response.blob(), name: path.slice(path.lastIndexOf('/') + 1) };
}
