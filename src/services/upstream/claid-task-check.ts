import { JOB_STATUSES, type JobStatus } from '../../domain/job.js';

// Claid's task as it arrives, and a plain check that one is well-formed. Every submit answer, status answer and
// webhook is read through this; the zod schema in claid-mapping.ts is asked only when this check says no, to name
// what is wrong (or to decide an odd case), because its safeParse was a visible share of a submit's CPU.

export type ClaidWireDate = string | number;

export interface ClaidWireImage {
  ext?: string | null;
  mps?: number | null;
  mime?: string | null;
  format?: string | null;
  width?: number | null;
  height?: number | null;
}

export interface ClaidWireOutputImage extends ClaidWireImage {
  tmp_url?: string | null;
  object_key?: string | null;
  object_bucket?: string | null;
  object_uri?: string | null;
  claid_storage_uri?: string | null;
}

export interface ClaidWireTask {
  id: number;
  status: JobStatus;
  created_at: ClaidWireDate;
  errors?: { error: string; created_at: ClaidWireDate }[] | null;
  request?: unknown;
  result?: { input_object: ClaidWireImage; output_objects: ClaidWireOutputImage[] } | Record<string, never> | null;
}

const STATUSES: ReadonlySet<unknown> = new Set(JOB_STATUSES);
const IMAGE_STRINGS = ['ext', 'mime', 'format'] as const;
const IMAGE_NUMBERS = ['mps', 'width', 'height'] as const;
const OUTPUT_STRINGS = ['tmp_url', 'object_key', 'object_bucket', 'object_uri', 'claid_storage_uri'] as const;

// Claid documents created_at as a date-time string on tasks but as an integer on task errors; accept either.
// Integers below 1e11 are taken as Unix seconds (1e11 s is the year 5138), larger ones as milliseconds.
/** Claid's date, or null when it is not one. */
export function readClaidDate(value: ClaidWireDate): Date | null {
  let ms: number;
  if (typeof value === 'number') {
    ms = Math.abs(value) < 1e11 ? value * 1000 : value;
  } else {
    const text = value.trim();
    // An ISO date-time without a zone would be read as local time; Claid's clock is UTC.
    const zoned = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? `${text}Z` : text;
    ms = /^-?\d+(\.\d+)?$/.test(text) ? Number(text) * (Math.abs(Number(text)) < 1e11 ? 1000 : 1) : Date.parse(zoned);
  }
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const isNullish = (value: unknown): value is null | undefined => value === null || value === undefined;

function hasFields(o: Record<string, unknown>, keys: readonly string[], type: 'string' | 'number'): boolean {
  for (const key of keys) {
    const value = o[key];
    if (isNullish(value)) continue;
    if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) return false;
  }
  return true;
}

const isDate = (value: unknown): boolean =>
  (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) && readClaidDate(value) !== null;

const isImage = (value: unknown): boolean =>
  isObject(value) && hasFields(value, IMAGE_STRINGS, 'string') && hasFields(value, IMAGE_NUMBERS, 'number');

function isResult(value: unknown): boolean {
  if (isNullish(value)) return true;
  if (!isObject(value)) return false;
  if (!('input_object' in value)) return Object.keys(value).length === 0;
  const outputs = value.output_objects;
  if (!isImage(value.input_object) || !Array.isArray(outputs)) return false;
  for (const o of outputs) if (!isImage(o) || !hasFields(o, OUTPUT_STRINGS, 'string')) return false;
  return true;
}

function isErrors(value: unknown): boolean {
  if (isNullish(value)) return true;
  if (!Array.isArray(value)) return false;
  for (const e of value) if (!isObject(e) || typeof e.error !== 'string' || !isDate(e.created_at)) return false;
  return true;
}

/**
 * True when `data` is plainly a well-formed Claid task. False means "ask the schema", which refuses it with a
 * reason or, for an odd case this check leaves out, accepts it; this accepts nothing the schema refuses
 * (test/claid-task-check.test.ts checks that on generated tasks).
 */
export function isPlainClaidTask(data: unknown): data is ClaidWireTask {
  if (!isObject(data)) return false;
  const { id, status, created_at, errors, result } = data;
  return (
    Number.isSafeInteger(id) &&
    (id as number) >= 0 &&
    STATUSES.has(status) &&
    isDate(created_at) &&
    isErrors(errors) &&
    isResult(result)
  );
}
