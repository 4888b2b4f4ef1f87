import { AI_EDIT_MODELS, type AiEditRequest, ASPECT_RATIOS, IMAGE_FORMATS } from './job.js';

// The submit rules as plain checks, shared by the zod schema (which explains what is wrong) and by the fast
// acceptance of a plainly valid request (which only says yes or "ask zod"). Every submit runs through this, and zod's
// safeParse of the request was the largest single share of a submit's CPU (bench/README.md, issue 16).

export const MAX_URL_LENGTH = 4096;
export const MIN_PROMPT_CODE_POINTS = 3;
export const MAX_PROMPT_CODE_POINTS = 5000;
const ALLOWED_URL_SCHEMES = new Set(['http:', 'https:', 'storage:']);
const MODELS: ReadonlySet<unknown> = new Set(AI_EDIT_MODELS);
const RATIOS: ReadonlySet<unknown> = new Set(ASPECT_RATIOS);
const FORMATS: ReadonlySet<unknown> = new Set(IMAGE_FORMATS);
const REQUEST_KEYS: ReadonlySet<string> = new Set(['input', 'output', 'options']);
const OPTION_KEYS: ReadonlySet<string> = new Set(['prompt', 'model', 'aspectRatio', 'inferenceSteps', 'guidanceScale']);
const OUTPUT_KEYS: ReadonlySet<string> = new Set(['destination', 'format', 'numberOfImages']);

export function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

export function isAllowedUrl(value: string): boolean {
  if (value.length === 0 || /\s/.test(value)) return false;
  try {
    const url = new URL(value);
    if (!ALLOWED_URL_SCHEMES.has(url.protocol)) return false;
    return url.protocol === 'storage:' ? url.host.length > 0 && url.pathname.length > 1 : url.hostname.length > 0;
  } catch {
    return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function hasOnlyKeys(value: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const key in value) if (!allowed.has(key)) return false;
  return true;
}

const isImageUrl = (value: unknown): boolean =>
  typeof value === 'string' && value.length <= MAX_URL_LENGTH && isAllowedUrl(value);

const isWholeIn = (value: unknown, min: number, max: number): boolean =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

function isPlainOptions(options: unknown): boolean {
  if (!isPlainObject(options) || !hasOnlyKeys(options, OPTION_KEYS)) return false;
  const { prompt, model, aspectRatio, inferenceSteps, guidanceScale } = options;
  if (typeof prompt !== 'string') return false;
  const trimmed = prompt.trim();
  // Six UTF-16 units are at least three code points; shorter prompts are counted exactly.
  if (trimmed.length < 6 && codePoints(trimmed) < MIN_PROMPT_CODE_POINTS) return false;
  if (prompt.length > MAX_PROMPT_CODE_POINTS && codePoints(prompt) > MAX_PROMPT_CODE_POINTS) return false;
  if (model !== undefined && !MODELS.has(model)) return false;
  const v1Only = aspectRatio !== undefined || inferenceSteps !== undefined || guidanceScale !== undefined;
  if (v1Only && model !== 'v1') return false;
  if (aspectRatio !== undefined && !RATIOS.has(aspectRatio)) return false;
  if (inferenceSteps !== undefined && !isWholeIn(inferenceSteps, 1, 50)) return false;
  if (guidanceScale !== undefined) {
    if (typeof guidanceScale !== 'number' || !(guidanceScale >= 1 && guidanceScale <= 10)) return false;
  }
  return true;
}

function isPlainOutput(output: unknown): boolean {
  if (!isPlainObject(output) || !hasOnlyKeys(output, OUTPUT_KEYS)) return false;
  const { destination, format, numberOfImages } = output;
  if (destination !== undefined && !isImageUrl(destination)) return false;
  if (format !== undefined && !FORMATS.has(format)) return false;
  return numberOfImages === undefined || isWholeIn(numberOfImages, 1, 4);
}

/**
 * True when a compacted request (no null or undefined fields, no empty output) passes every submit rule, so it can
 * be used as it is. False means "not plainly valid": the zod schema then decides and names what is wrong. This
 * accepts nothing the schema refuses (test/ai-edit-request-fast-path.test.ts checks that on generated requests).
 */
export function isPlainlyValidAiEditRequest(candidate: unknown): candidate is AiEditRequest {
  if (!isPlainObject(candidate) || !hasOnlyKeys(candidate, REQUEST_KEYS)) return false;
  if (!isImageUrl(candidate.input) || !isPlainOptions(candidate.options)) return false;
  return candidate.output === undefined || isPlainOutput(candidate.output);
}
