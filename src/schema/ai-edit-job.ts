import { isFinalStatus, type Job } from '../domain/job.js';
import {
  AI_EDIT_JOB_TYPENAME,
  estimatedFinishAt,
  jobIdFromGlobalId,
  listAiEditJobs,
  loadAiEditJobs,
  queuePosition,
  submitAiEdit,
  watchAiEditJob,
} from '../resolvers/ai-edit-jobs.js';
import { AiEditRequestRef } from './ai-edit-request.js';
import { AiEditErrorRef, AiEditResultRef, AiEditStatusChangeRef } from './ai-edit-result.js';
import { builder } from './builder.js';
import { AiEditAspectRatioEnum, AiEditImageFormatEnum, AiEditJobStatusEnum, AiEditModelEnum } from './enums.js';

// ---------------------------------------------------------------- the job

export const AiEditJob = builder.loadableNode(AI_EDIT_JOB_TYPENAME, {
  description: 'An AI Edit job: one submitted edit and everything the gateway knows of it.',
  id: { resolve: (job: Job) => job.id, description: 'Opaque global id (not the upstream task id).' },
  load: (ids: string[], ctx) => loadAiEditJobs(ctx, ids),
  sort: (job) => job.id,
  fields: (t) => ({
    upstreamId: t.exposeInt('upstreamId', {
      nullable: true,
      description:
        "Claid's task id; null while the job is QUEUED, or when the gateway could not learn whether Claid took it.",
    }),
    queuePosition: t.int({
      nullable: true,
      description:
        "The job's place among all jobs waiting to be sent to Claid (1: next), in send order (oldest first); null " +
        'when it is not waiting (being sent, sent, or final). Subscribers hear it change at least when the job ' +
        'leaves the queue (the ACCEPTED event); a move forward while others leave is not an event of its own.',
      resolve: (job, _args, ctx) => queuePosition(ctx, job),
    }),
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
    estimatedFinishAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'An estimate, not a promise: when the job will likely reach a final status, judged by how long jobs of ' +
        'the same model and number of images took here (and whether this one is PROCESSING). Null once final, ' +
        'or while too few such jobs have finished.',
      resolve: (job, _args, ctx) => estimatedFinishAt(ctx, job),
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
      'Submits an image edit to Claid and returns the job at once; follow it with aiEditJob or aiEditJobUpdated. Invalid input is refused before any upstream call. ' +
      "When the account's budget cannot send it at once, or Claid answers 429, the job comes back QUEUED (with a queuePosition) and is sent in order.",
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
