import { z } from 'zod';
import {
  codePoints,
  isAllowedUrl,
  isPlainlyValidAiEditRequest,
  MAX_PROMPT_CODE_POINTS,
  MAX_URL_LENGTH,
  MIN_PROMPT_CODE_POINTS,
} from './ai-edit-request-rules.js';
import { BadUserInputError } from './errors.js';
import { AI_EDIT_MODELS, type AiEditRequest, ASPECT_RATIOS, IMAGE_FORMATS } from './job.js';

// The contract's submit rules, checked before any upstream call (and by the web app before it submits: this file
// stays free of Node's modules so that it bundles for a browser). Paths in errors are GraphQL input paths
// (`input.options.prompt`), so a client can point at the field.

const imageUrl = z
  .string()
  .max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`)
  .refine(isAllowedUrl, 'must be an http, https or storage:// URL');

const optionsSchema = z
  .object({
    // Claid counts characters as code points, so an emoji is one, not two UTF-16 units.
    prompt: z
      .string()
      .refine((p) => p.trim().length > 0, 'must not be blank')
      .refine(
        (p) => p.trim().length === 0 || codePoints(p.trim()) >= MIN_PROMPT_CODE_POINTS,
        `must be at least ${MIN_PROMPT_CODE_POINTS} characters`,
      )
      .refine((p) => codePoints(p) <= MAX_PROMPT_CODE_POINTS, `must be at most ${MAX_PROMPT_CODE_POINTS} characters`),
    model: z.enum(AI_EDIT_MODELS).optional(),
    aspectRatio: z.enum(ASPECT_RATIOS).optional(),
    inferenceSteps: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be from 1 to 50')
      .max(50, 'must be from 1 to 50')
      .optional(),
    guidanceScale: z.number().min(1, 'must be from 1 to 10').max(10, 'must be from 1 to 10').optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    // Claid documents these three options for model v1 only; sending them to v2 would be silently ignored or refused.
    for (const field of ['aspectRatio', 'inferenceSteps', 'guidanceScale'] as const) {
      if (options[field] !== undefined && options.model !== 'v1') {
        ctx.addIssue({ code: 'custom', path: [field], message: 'is supported only with model V1' });
      }
    }
  });

const outputSchema = z
  .object({
    destination: imageUrl.optional(),
    format: z.enum(IMAGE_FORMATS).optional(),
    numberOfImages: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be from 1 to 4')
      .max(4, 'must be from 1 to 4')
      .optional(),
  })
  .strict();

export const aiEditRequestSchema = z
  .object({
    input: imageUrl,
    output: outputSchema.optional(),
    options: optionsSchema,
  })
  .strict();

/** Drops absent (undefined or null) fields so that only what the caller gave is kept, stored and sent. */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? compact(v) : v;
  }
  return out as T;
}

/** The request as the rules judge it: absent (null or undefined) fields dropped, an empty output left out. */
export function compactAiEditRequest(raw: unknown): unknown {
  const candidate = raw !== null && typeof raw === 'object' ? compact(raw) : raw;
  if (candidate !== null && typeof candidate === 'object' && 'output' in candidate) {
    const output = (candidate as { output?: object }).output;
    if (output && Object.keys(output).length === 0) delete (candidate as { output?: object }).output;
  }
  return candidate;
}

/**
 * Validates a submit request. Returns it with absent fields removed; throws one BadUserInputError naming every
 * offending input path (`input.options.prompt`), so that a caller fixes them all in one round.
 */
export function parseAiEditRequest(raw: unknown, pathPrefix = 'input'): AiEditRequest {
  const candidate = compactAiEditRequest(raw);
  // Nearly every submit is plainly valid; zod is asked only to explain a refusal (or to decide an odd case).
  if (isPlainlyValidAiEditRequest(candidate)) return candidate;
  const parsed = aiEditRequestSchema.safeParse(candidate);
  if (parsed.success) return parsed.data as AiEditRequest;
  const [first, ...rest] = parsed.error.issues.map((issue) => {
    const field = [pathPrefix, ...issue.path.map(String)].join('.');
    return { field, message: `${field} ${issueMessage(issue)}` };
  });
  throw BadUserInputError.forFields([first!, ...rest]);
}

function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be a ${issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `has unknown fields: ${issue.keys.join(', ')}`;
    default:
      return issue.message;
  }
}
