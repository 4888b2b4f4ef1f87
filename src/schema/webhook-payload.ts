import { encodeGlobalID } from '@pothos/plugin-relay';
import { type ExecutionResult, execute, parse } from 'graphql';
import type { Job } from '../domain/job.js';
import { AI_EDIT_JOB_TYPENAME } from '../resolvers/ai-edit-jobs.js';
import type { GatewayServices, ResolverContext } from '../resolvers/resolver-context.js';
import { schema } from './index.js';

// The job a caller's webhook receives: this fixed selection, executed by the schema itself on the job as it was at
// the event, so that it is exactly what `aiEditJobUpdated { <selection> }` sends for that state.

/** The AiEditJob fields every webhook body carries under data.aiEditJobUpdated (documented in docs/operations.md). */
export const WEBHOOK_JOB_SELECTION = /* GraphQL */ `
  id upstreamId status isFinal createdAt updatedAt
  request { input output { destination format numberOfImages } options { prompt model aspectRatio inferenceSteps guidanceScale } }
  errors { message code createdAt }
  result {
    inputObject { ext mps mime format width height }
    outputObjects { ext mps mime format width height tmpUrl objectKey objectBucket objectUri claidStorageUri expiresAt }
  }
  history { status at }
`;

const document = parse(
  `query WebhookJob($id: ID!) { node(id: $id) { ... on AiEditJob { ${WEBHOOK_JOB_SELECTION} } } }`,
);

/** The webhook body's job for `job` as it was; throws when the selection could not be executed. */
export async function renderWebhookJob(job: Job): Promise<unknown> {
  // A context whose only job is this snapshot: nothing is read from the store or upstream.
  const services = {
    jobs: { loadJobs: async (_owner: string, ids: readonly string[]) => ids.map((id) => (id === job.id ? job : null)) },
    estimatedFinishAt: () => null,
  } as unknown as GatewayServices;
  const contextValue: ResolverContext = { owner: job.owner, services };
  const result = (await execute({
    schema,
    document,
    variableValues: { id: encodeGlobalID(AI_EDIT_JOB_TYPENAME, job.id) },
    contextValue,
  })) as ExecutionResult<{ node: unknown }>;
  if (result.errors?.length || !result.data?.node) {
    throw new Error(`webhook body: ${result.errors?.[0]?.message ?? 'the job did not render'}`);
  }
  return result.data.node;
}
