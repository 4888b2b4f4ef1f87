/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** The aspect ratio of generated images (model V1 only). */
export type AiEditAspectRatio =
  /** Width to height 1:1. */
  | 'RATIO_1_1'
  /** Width to height 2:3. */
  | 'RATIO_2_3'
  /** Width to height 3:2. */
  | 'RATIO_3_2'
  /** Width to height 3:4. */
  | 'RATIO_3_4'
  /** Width to height 4:3. */
  | 'RATIO_4_3'
  /** Width to height 9:16. */
  | 'RATIO_9_16'
  /** Width to height 9:21. */
  | 'RATIO_9_21'
  /** Width to height 16:9. */
  | 'RATIO_16_9'
  /** Width to height 21:9. */
  | 'RATIO_21_9';

/** The file format of output images. */
export type AiEditImageFormat =
  /** JPEG. */
  | 'JPEG'
  /** PNG (Claid's default). */
  | 'PNG';

/** A job's status: QUEUED is the gateway's own, the rest are Claid's as it reports them. DONE, ERROR and CANCELLED are final. */
export type AiEditJobStatus =
  /** Claid accepted the task; it has not been queued yet. */
  | 'ACCEPTED'
  /** Cancelled upstream. Final. */
  | 'CANCELLED'
  /** Finished: `result` holds the output images. Final. */
  | 'DONE'
  /** Failed: `errors` says why. Final. */
  | 'ERROR'
  /** Paused upstream; not final, it may continue. */
  | 'PAUSED'
  /** Being generated. */
  | 'PROCESSING'
  /** The gateway's own status: the job is recorded and Claid does not have it yet, so `upstreamId` is null. It waits in the submit queue (see `queuePosition`) while the account's generation or request budget is spent, or after Claid answered 429; it is sent in order as the budget allows. */
  | 'QUEUED'
  /** Queued, waiting for a worker. */
  | 'WAITING';

/** The generation model. */
export type AiEditModel =
  /** The first model; the only one that takes aspectRatio, inferenceSteps and guidanceScale. */
  | 'V1'
  /** Claid's default and recommended model, with native 2K output. */
  | 'V2';

/** How to edit the image. */
export type AiEditOptionsInput = {
  /** Aspect ratio of the output (V1 only). */
  aspectRatio?: AiEditAspectRatio | null | undefined;
  /** Guidance scale, 1 to 10 (V1 only). */
  guidanceScale?: number | null | undefined;
  /** Inference steps, 1 to 50 (V1 only). */
  inferenceSteps?: number | null | undefined;
  /** The model; Claid defaults to V2. */
  model?: AiEditModel | null | undefined;
  /** What to change, 3 to 5000 characters ("add a duck"). */
  prompt: string;
};

/** Where and how to write the results. */
export type AiEditOutputInput = {
  /** A storage:// or http(s) URL to write results to; default: a temporary bucket (24 h URLs). */
  destination?: string | null | undefined;
  /** Output format; default PNG. */
  format?: AiEditImageFormat | null | undefined;
  /** How many images, 1 to 4; default 1. Each costs credits. */
  numberOfImages?: number | null | undefined;
};

/** An edit to submit. */
export type SubmitAiEditInput = {
  /** Echoed back unchanged in the payload. */
  clientMutationId?: string | null | undefined;
  /** Repeat a submit safely: the same key returns the first job (kept 24 h); reusing it for another request is refused. */
  idempotencyKey?: string | null | undefined;
  /** URL of the input image: http, https or storage://, at most 4096 characters. */
  input: string;
  /** Generation options. */
  options: AiEditOptionsInput;
  /** Output settings. */
  output?: AiEditOutputInput | null | undefined;
};

export type AiEditJobUpdatedSubscriptionVariables = Exact<{
  id: string | number;
}>;


export type AiEditJobUpdatedSubscription = { aiEditJobUpdated: { __typename: 'AiEditJob', id: string, status: AiEditJobStatus, isFinal: boolean, updatedAt: string, errors: Array<{ __typename: 'AiEditError', message: string }>, result: { __typename: 'AiEditResult', outputObjects: Array<{ __typename: 'AiEditOutputImage', tmpUrl: string | null, width: number | null, height: number | null }> } | null } };

export type ListAiEditJobsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  status?: Array<AiEditJobStatus> | AiEditJobStatus | null | undefined;
}>;


export type ListAiEditJobsQuery = { __typename: 'Query', aiEditJobs: { __typename: 'AiEditJobConnection', edges: Array<{ __typename: 'AiEditJobEdge', cursor: string, node: { __typename: 'AiEditJob', id: string, status: AiEditJobStatus, isFinal: boolean, createdAt: string } }>, pageInfo: { __typename: 'PageInfo', endCursor: string | null, hasNextPage: boolean } } };

export type ReadAiEditJobQueryVariables = Exact<{
  id: string | number;
}>;


export type ReadAiEditJobQuery = { __typename: 'Query', aiEditJob: { __typename: 'AiEditJob', id: string, status: AiEditJobStatus, isFinal: boolean, updatedAt: string, errors: Array<{ __typename: 'AiEditError', message: string, createdAt: string }>, result: { __typename: 'AiEditResult', outputObjects: Array<{ __typename: 'AiEditOutputImage', tmpUrl: string | null, width: number | null, height: number | null, format: string | null, expiresAt: string | null }> } | null, history: Array<{ __typename: 'AiEditStatusChange', status: AiEditJobStatus, at: string }> } | null };

export type SubmitAiEditMutationVariables = Exact<{
  input: SubmitAiEditInput;
}>;


export type SubmitAiEditMutation = { __typename: 'Mutation', submitAiEdit: { __typename: 'SubmitAiEditPayload', clientMutationId: string | null, job: { __typename: 'AiEditJob', id: string, upstreamId: number | null, status: AiEditJobStatus, isFinal: boolean, createdAt: string } } };


export const AiEditJobUpdatedDocument = {"__meta__":{"hash":"sha256:ce740d2aa62293c4c47b5264072c2c260e67cb8874c95e34fb1b1a03d911fd72"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"AiEditJobUpdated"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"aiEditJobUpdated"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"isFinal"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"errors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"result"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"outputObjects"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"tmpUrl"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}}]}}]}}]}}]}}]} as unknown as DocumentNode<AiEditJobUpdatedSubscription, AiEditJobUpdatedSubscriptionVariables>;
export const ListAiEditJobsDocument = {"__meta__":{"hash":"sha256:a94acdeecacc38e6171119bc50ae9d40652c7737bdaebeec388280c20372251c"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ListAiEditJobs"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"status"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"AiEditJobStatus"}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"aiEditJobs"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"status"},"value":{"kind":"Variable","name":{"kind":"Name","value":"status"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"isFinal"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}}]}}]}}]} as unknown as DocumentNode<ListAiEditJobsQuery, ListAiEditJobsQueryVariables>;
export const ReadAiEditJobDocument = {"__meta__":{"hash":"sha256:e8a53f5a02c73edb8aeb1a4650f70ffe93e888ffc593448cd9f94839416c02aa"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ReadAiEditJob"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"aiEditJob"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"isFinal"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"errors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}},{"kind":"Field","name":{"kind":"Name","value":"result"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"outputObjects"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"tmpUrl"}},{"kind":"Field","name":{"kind":"Name","value":"width"}},{"kind":"Field","name":{"kind":"Name","value":"height"}},{"kind":"Field","name":{"kind":"Name","value":"format"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"history"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"at"}}]}}]}}]}}]} as unknown as DocumentNode<ReadAiEditJobQuery, ReadAiEditJobQueryVariables>;
export const SubmitAiEditDocument = {"__meta__":{"hash":"sha256:bf3b68ff943bf9d97dc278907b5fbce70f3335f27481e46dd210e4de69d5be0b"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SubmitAiEdit"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SubmitAiEditInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"submitAiEdit"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"clientMutationId"}},{"kind":"Field","name":{"kind":"Name","value":"job"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"upstreamId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"isFinal"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]}}]} as unknown as DocumentNode<SubmitAiEditMutation, SubmitAiEditMutationVariables>;