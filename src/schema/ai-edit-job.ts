import {
  type AiEditError,
  type AiEditImage,
  type AiEditOptions,
  type AiEditOutput,
  type AiEditOutputImage,
  type AiEditRequest,
  type AiEditResult,
  isFinalStatus,
  type Job,
  type StatusChange,
  TMP_URL_TTL_MS,
} from '../domain/job.js';
import {
  AI_EDIT_JOB_TYPENAME,
  jobIdFromGlobalId,
  listAiEditJobs,
  loadAiEditJobs,
  submitAiEdit,
  watchAiEditJob,
} from '../resolvers/ai-edit-jobs.js';
import { builder } from './builder.js';
import { AiEditAspectRatioEnum, AiEditImageFormatEnum, AiEditJobStatusEnum, AiEditModelEnum } from './enums.js';

// ---------------------------------------------------------------- the request as submitted

const AiEditRequestOptions = builder.objectRef<AiEditOptions>('AiEditRequestOptions').implement({
  description: 'Generation options as submitted; unset options are null and Claid used its defaults.',
  fields: (t) => ({
    prompt: t.exposeString('prompt', { description: 'What to change in the image ("add a duck").' }),
    model: t.expose('model', {
      type: AiEditModelEnum,
      nullable: true,
      description: 'The model asked for; null means Claid’s default (V2).',
    }),
    aspectRatio: t.expose('aspectRatio', {
      type: AiEditAspectRatioEnum,
      nullable: true,
      description: 'The aspect ratio asked for (V1 only).',
    }),
    inferenceSteps: t.exposeInt('inferenceSteps', {
      nullable: true,
      description: 'Inference steps asked for (V1 only).',
    }),
    guidanceScale: t.exposeFloat('guidanceScale', {
      nullable: true,
      description: 'Guidance scale asked for (V1 only).',
    }),
  }),
});

const AiEditRequestOutput = builder.objectRef<AiEditOutput>('AiEditRequestOutput').implement({
  description: 'Output settings as submitted.',
  fields: (t) => ({
    destination: t.exposeString('destination', {
      nullable: true,
      description: 'Where Claid was asked to store the results; null means its temporary bucket.',
    }),
    format: t.expose('format', {
      type: AiEditImageFormatEnum,
      nullable: true,
      description: 'The format asked for; null means PNG.',
    }),
    numberOfImages: t.exposeInt('numberOfImages', {
      nullable: true,
      description: 'How many images were asked for; null means 1.',
    }),
  }),
});

const AiEditRequestRef = builder.objectRef<AiEditRequest>('AiEditRequest').implement({
  description: 'The request exactly as it was submitted.',
  fields: (t) => ({
    input: t.exposeString('input', { description: 'URL of the input image.' }),
    output: t.expose('output', {
      type: AiEditRequestOutput,
      nullable: true,
      description: 'Output settings; null when none were given.',
    }),
    options: t.field({ type: AiEditRequestOptions, description: 'Generation options.', resolve: (r) => r.options }),
  }),
});

// ---------------------------------------------------------------- results and errors

/** The fields every image has; an output image's builder passes for an AiEditImage's, since its shape extends it. */
const imageFields = (
  t: PothosSchemaTypes.ObjectFieldBuilder<
    PothosSchemaTypes.ExtendDefaultTypes<import('./builder.js').PothosTypes>,
    AiEditImage
  >,
) => ({
  ext: t.exposeString('ext', { nullable: true, description: 'File extension (jpg, png).' }),
  mps: t.exposeFloat('mps', { nullable: true, description: 'Size in megapixels.' }),
  mime: t.exposeString('mime', { nullable: true, description: 'MIME type (image/jpeg, image/png).' }),
  format: t.exposeString('format', {
    nullable: true,
    description: 'File format as Claid names it (JPEG, PNG).',
  }),
  width: t.exposeInt('width', { nullable: true, description: 'Width in pixels.' }),
  height: t.exposeInt('height', { nullable: true, description: 'Height in pixels.' }),
});

const AiEditImageRef = builder.objectRef<AiEditImage>('AiEditImage').implement({
  description: 'An image Claid read: the input of a job.',
  fields: (t) => imageFields(t),
});

/** An output image together with its job's finish time, from which its URL's expiry follows. */
interface OutputImageShape extends AiEditOutputImage {
  finishedAt: Date | null;
}

const AiEditOutputImageRef = builder.objectRef<OutputImageShape>('AiEditOutputImage').implement({
  description: 'A generated image.',
  fields: (t) => ({
    ...imageFields(t),
    tmpUrl: t.exposeString('tmpUrl', {
      nullable: true,
      description: 'Temporary download URL; it stops working at `expiresAt`.',
    }),
    objectKey: t.exposeString('objectKey', {
      nullable: true,
      description: 'Path of the image in its bucket.',
    }),
    objectBucket: t.exposeString('objectBucket', {
      nullable: true,
      description: 'Bucket that holds the image.',
    }),
    objectUri: t.exposeString('objectUri', {
      nullable: true,
      description: 'URI of the image in its bucket.',
    }),
    claidStorageUri: t.exposeString('claidStorageUri', {
      nullable: true,
      description: 'URI of the image in Claid storage.',
    }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When `tmpUrl` stops working: 24 hours after the job finished, per Claid.',
      resolve: (i) => (i.tmpUrl && i.finishedAt ? new Date(i.finishedAt.getTime() + TMP_URL_TTL_MS) : null),
    }),
  }),
});

const AiEditResultRef = builder.objectRef<{ result: AiEditResult; finishedAt: Date | null }>('AiEditResult').implement({
  description: "A finished job's images.",
  fields: (t) => ({
    inputObject: t.field({
      type: AiEditImageRef,
      description: 'The input image as Claid read it.',
      resolve: (r) => r.result.inputObject,
    }),
    outputObjects: t.field({
      type: [AiEditOutputImageRef],
      description: 'The generated images.',
      resolve: (r) => r.result.outputObjects.map((o) => ({ ...o, finishedAt: r.finishedAt })),
    }),
  }),
});

const AiEditErrorRef = builder.objectRef<AiEditError>('AiEditError').implement({
  description: 'An error Claid reported while processing the job.',
  fields: (t) => ({
    message: t.exposeString('message', { description: "Claid's error message." }),
    createdAt: t.field({ type: 'DateTime', description: 'When the error occurred.', resolve: (e) => e.createdAt }),
  }),
});

const AiEditStatusChangeRef = builder.objectRef<StatusChange>('AiEditStatusChange').implement({
  description: 'A status the gateway saw, and when.',
  fields: (t) => ({
    status: t.field({ type: AiEditJobStatusEnum, description: 'The status entered.', resolve: (c) => c.status }),
    at: t.field({ type: 'DateTime', description: 'When the gateway first saw it.', resolve: (c) => c.at }),
  }),
});

// ---------------------------------------------------------------- the job

export const AiEditJob = builder.loadableNode(AI_EDIT_JOB_TYPENAME, {
  description: 'An AI Edit job: one submitted edit and everything the gateway knows of it.',
  id: { resolve: (job: Job) => job.id, description: 'Opaque global id (not the upstream task id).' },
  load: (ids: string[], ctx) => loadAiEditJobs(ctx, ids),
  sort: (job) => job.id,
  fields: (t) => ({
    upstreamId: t.exposeInt('upstreamId', { description: "Claid's task id." }),
    status: t.field({ type: AiEditJobStatusEnum, description: 'Current status.', resolve: (job) => job.status }),
    isFinal: t.boolean({
      description: 'Whether the status is final (DONE, ERROR or CANCELLED): nothing will change.',
      resolve: (job) => isFinalStatus(job.status),
    }),
    createdAt: t.field({
      type: 'DateTime',
      description: 'When the job was submitted.',
      resolve: (job) => job.createdAt,
    }),
    updatedAt: t.field({
      type: 'DateTime',
      description: 'Last time the gateway saw a change.',
      resolve: (job) => job.updatedAt,
    }),
    request: t.field({
      type: AiEditRequestRef,
      description: 'The request as submitted.',
      resolve: (job) => job.request,
    }),
    errors: t.field({
      type: [AiEditErrorRef],
      description: 'Errors Claid reported; empty unless the job failed.',
      resolve: (job) => job.errors,
    }),
    result: t.field({
      type: AiEditResultRef,
      nullable: true,
      description: 'The images; null until the job is DONE.',
      resolve: (job) => (job.result ? { result: job.result, finishedAt: job.finishedAt } : null),
    }),
    history: t.field({
      type: [AiEditStatusChangeRef],
      description: 'Every status the gateway saw, oldest first.',
      resolve: (job) => job.history,
    }),
  }),
});

// ---------------------------------------------------------------- inputs

const AiEditOptionsInput = builder.inputType('AiEditOptionsInput', {
  description: 'How to edit the image.',
  fields: (t) => ({
    prompt: t.string({ required: true, description: 'What to change, 3 to 5000 characters ("add a duck").' }),
    model: t.field({ type: AiEditModelEnum, description: 'The model; Claid defaults to V2.' }),
    aspectRatio: t.field({ type: AiEditAspectRatioEnum, description: 'Aspect ratio of the output (V1 only).' }),
    inferenceSteps: t.int({ description: 'Inference steps, 1 to 50 (V1 only).' }),
    guidanceScale: t.float({ description: 'Guidance scale, 1 to 10 (V1 only).' }),
  }),
});

const AiEditOutputInput = builder.inputType('AiEditOutputInput', {
  description: 'Where and how to write the results.',
  fields: (t) => ({
    destination: t.string({
      description: 'A storage:// or http(s) URL to write results to; default: a temporary bucket (24 h URLs).',
    }),
    format: t.field({ type: AiEditImageFormatEnum, description: 'Output format; default PNG.' }),
    numberOfImages: t.int({ description: 'How many images, 1 to 4; default 1. Each costs credits.' }),
  }),
});

const SubmitAiEditInput = builder.inputType('SubmitAiEditInput', {
  description: 'An edit to submit.',
  fields: (t) => ({
    input: t.string({
      required: true,
      description: 'URL of the input image: http, https or storage://, at most 4096 characters.',
    }),
    output: t.field({ type: AiEditOutputInput, description: 'Output settings.' }),
    options: t.field({ type: AiEditOptionsInput, required: true, description: 'Generation options.' }),
    idempotencyKey: t.string({
      description:
        'Repeat a submit safely: the same key returns the first job (kept 24 h); reusing it for another request is refused.',
    }),
    clientMutationId: t.string({ description: 'Echoed back unchanged in the payload.' }),
  }),
});

const SubmitAiEditPayload = builder
  .objectRef<{ job: Job; clientMutationId: string | null }>('SubmitAiEditPayload')
  .implement({
    description: 'The result of a submit.',
    fields: (t) => ({
      job: t.field({
        type: AiEditJob,
        description: 'The submitted job (or the earlier one for a repeated idempotency key).',
        resolve: (p) => p.job,
      }),
      clientMutationId: t.string({
        nullable: true,
        description: 'The clientMutationId given in the input.',
        resolve: (p) => p.clientMutationId,
      }),
    }),
  });

// ---------------------------------------------------------------- operations

builder.queryFields((t) => ({
  aiEditJob: t.field({
    type: AiEditJob,
    nullable: true,
    description:
      'A job by its global id; null when it is unknown or not yours. An unfinished job is refreshed from Claid when its last read is older than the poll interval.',
    args: { id: t.arg.id({ required: true, description: 'The global id of the job.' }) },
    resolve: (_root, args) => jobIdFromGlobalId(args.id),
  }),
  aiEditJobs: t.connection(
    {
      type: AiEditJob,
      description: 'Your jobs, newest first, with cursor pagination (at most 100 a page).',
      args: {
        status: t.arg({
          type: [AiEditJobStatusEnum],
          required: false,
          description: 'Only jobs with one of these statuses.',
        }),
      },
      resolve: (_root, args, ctx) => listAiEditJobs(ctx, args),
    },
    {
      name: 'AiEditJobConnection',
      description: 'A page of jobs.',
    },
    {
      name: 'AiEditJobEdge',
      description: 'A job in a page, with its cursor.',
    },
  ),
}));

builder.mutationFields((t) => ({
  submitAiEdit: t.field({
    type: SubmitAiEditPayload,
    description:
      'Submits an image edit to Claid and returns the job at once; follow it with aiEditJob or aiEditJobUpdated. Invalid input is refused before any upstream call.',
    args: { input: t.arg({ type: SubmitAiEditInput, required: true, description: 'The edit.' }) },
    resolve: async (_root, { input }, ctx) => ({
      job: await submitAiEdit(ctx, input),
      clientMutationId: input.clientMutationId ?? null,
    }),
  }),
}));

builder.subscriptionFields((t) => ({
  aiEditJobUpdated: t.field({
    type: AiEditJob,
    description:
      "A job's live state: the current state first, then one event per change (status, errors or result), completing after a final state. An already final job gives one event. An unknown id is NOT_FOUND.",
    args: { id: t.arg.id({ required: true, description: 'The global id of the job.' }) },
    subscribe: (_root, args, ctx) => watchAiEditJob(ctx, args.id),
    resolve: (job) => job,
  }),
}));
