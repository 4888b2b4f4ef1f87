import { z } from 'zod';
import {
  type AiEditError,
  type AiEditImage,
  type AiEditOutputImage,
  type AiEditRequest,
  type AiEditResult,
  JOB_STATUSES,
  type UpstreamTaskState,
} from '../../domain/job.js';
import { protocolError } from './claid-errors.js';
import {
  type ClaidWireDate,
  type ClaidWireImage,
  type ClaidWireOutputImage,
  type ClaidWireTask,
  isPlainClaidTask,
  readClaidDate,
} from './claid-task-check.js';

// Claid's wire format <-> the gateway's domain model. Claid speaks snake_case; the domain speaks camelCase and
// keeps only the fields that were given, so absent stays absent in both directions.

export interface ClaidRequestBody {
  input: string;
  output?: {
    destination?: string;
    format?: string;
    number_of_images?: number;
  };
  options: {
    prompt: string;
    model?: string;
    aspect_ratio?: string;
    inference_steps?: number;
    guidance_scale?: number;
  };
}

/** Copies the entries whose value is not undefined, so a field the caller left out is not sent as `null`. */
function defined<T extends Record<string, unknown>>(entries: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** The body of `POST /v1/image/ai-edit`, holding only what the caller gave. */
export function toClaidRequestBody(request: AiEditRequest): ClaidRequestBody {
  const { options, output } = request;
  const body: ClaidRequestBody = {
    input: request.input,
    options: {
      prompt: options.prompt,
      ...defined({
        model: options.model,
        aspect_ratio: options.aspectRatio,
        inference_steps: options.inferenceSteps,
        guidance_scale: options.guidanceScale,
      }),
    },
  };
  if (output) {
    const wireOutput = defined({
      destination: output.destination,
      format: output.format,
      number_of_images: output.numberOfImages,
    });
    if (Object.keys(wireOutput).length > 0) body.output = wireOutput;
  }
  return body;
}

// Schema and check agree: a date is a string or a number that readClaidDate reads; it is converted when mapped.
const claidDate = z.union([z.string(), z.number()]).refine((value) => readClaidDate(value) !== null, 'not a date');

const optionalString = z.string().nullish();
const optionalNumber = z.number().nullish();

const imageObject = z.object({
  ext: optionalString,
  mps: optionalNumber,
  mime: optionalString,
  format: optionalString,
  width: optionalNumber,
  height: optionalNumber,
});

const outputImageObject = imageObject.extend({
  tmp_url: optionalString,
  object_key: optionalString,
  object_bucket: optionalString,
  object_uri: optionalString,
  claid_storage_uri: optionalString,
});

const taskError = z.object({ error: z.string(), created_at: claidDate });

const result = z.object({
  input_object: imageObject,
  output_objects: z.array(outputImageObject),
});

export const claidTaskSchema = z.object({
  id: z.number().int().nonnegative(),
  status: z.enum(JOB_STATUSES),
  created_at: claidDate,
  errors: z.array(taskError).nullish(),
  request: z.unknown().optional(),
  // "In case of processing errors - will be empty": null, absent or {} all mean no result.
  result: z.union([result, z.strictObject({}), z.null()]).optional(),
});

export const claidEnvelopeSchema = z.object({ data: z.unknown() });

function image(o: ClaidWireImage): AiEditImage {
  return defined({
    ext: o.ext ?? undefined,
    mps: o.mps ?? undefined,
    mime: o.mime ?? undefined,
    format: o.format ?? undefined,
    width: o.width ?? undefined,
    height: o.height ?? undefined,
  });
}

function outputImage(o: ClaidWireOutputImage): AiEditOutputImage {
  return {
    ...image(o),
    ...defined({
      tmpUrl: o.tmp_url ?? undefined,
      objectKey: o.object_key ?? undefined,
      objectBucket: o.object_bucket ?? undefined,
      objectUri: o.object_uri ?? undefined,
      claidStorageUri: o.claid_storage_uri ?? undefined,
    }),
  };
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid task';
  const path = issue.path.length > 0 ? issue.path.join('.') : 'data';
  return `${path}: ${issue.message}`;
}

/**
 * Reads the `data` object of a submit answer, a status answer or a webhook into the domain's task state.
 * Extra fields are ignored; a missing field, an unknown status or a wrong type throws UPSTREAM_UNAVAILABLE
 * ("not Claid's JSON"), carrying the answer's httpStatus and requestId when the caller passes them.
 */
export function fromClaidTask(
  data: unknown,
  answer: { httpStatus: number | null; requestId: string | null } = { httpStatus: null, requestId: null },
): UpstreamTaskState {
  const t = isPlainClaidTask(data) ? data : checkedBySchema(data, answer);
  const errors: AiEditError[] = (t.errors ?? []).map((e) => ({ message: e.error, createdAt: toDate(e.created_at) }));
  const taskResult: AiEditResult | null =
    t.result && 'input_object' in t.result
      ? { inputObject: image(t.result.input_object), outputObjects: t.result.output_objects.map(outputImage) }
      : null;
  return {
    upstreamId: t.id,
    status: t.status,
    createdAt: toDate(t.created_at),
    errors,
    result: taskResult,
    ...(t.request === undefined ? {} : { request: t.request }),
  };
}

function checkedBySchema(
  data: unknown,
  answer: { httpStatus: number | null; requestId: string | null },
): ClaidWireTask {
  const parsed = claidTaskSchema.safeParse(data);
  if (!parsed.success) throw protocolError(describeIssue(parsed.error), answer.httpStatus, answer.requestId);
  return parsed.data as ClaidWireTask;
}

/** A date both the check and the schema accepted. */
function toDate(value: ClaidWireDate): Date {
  return readClaidDate(value) as Date;
}
