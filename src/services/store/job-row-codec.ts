import {
  type AiEditError,
  type AiEditRequest,
  type AiEditResult,
  isFinalStatus,
  type Job,
  type JobStatus,
} from '../../domain/job.js';
import { canonicalJson } from '../../lib/canonical-json.js';
import type { NewJob, NewQueuedJob } from './job-store.js';

// How a job is kept in a SQL row, shared by the SQLite and PostgreSQL stores so that both store, compare and revive
// it identically: times as epoch milliseconds, JSON as canonical text.

interface StoredError {
  message: string;
  createdAt: number;
  /** Only on errors the gateway made; absent keeps older rows and Claid's errors byte for byte as they were. */
  code?: string;
}

interface StoredStatusChange {
  status: JobStatus;
  at: number;
  since?: number;
}

/** A job's columns as both stores write them. */
export interface JobColumns {
  id: string;
  owner: string;
  upstream_id: number | null;
  status: string;
  request: string;
  request_hash: string;
  idempotency_key: string | null;
  errors: string;
  result: string | null;
  history: string;
  created_at: number;
  updated_at: number;
  last_polled_at: number;
  finished_at: number | null;
  /** When the gateway began sending the job upstream; null for a job not sent yet. */
  send_started_at: number | null;
}

/** Every column, in the order both stores' INSERTs name them. */
export const JOB_COLUMN_NAMES: readonly (keyof JobColumns)[] = [
  'id',
  'owner',
  'upstream_id',
  'status',
  'request',
  'request_hash',
  'idempotency_key',
  'errors',
  'result',
  'history',
  'created_at',
  'updated_at',
  'last_polled_at',
  'finished_at',
  'send_started_at',
];
/** The columns that hold JSON text. */
export const JSON_COLUMN_NAMES = new Set<keyof JobColumns>(['request', 'errors', 'result', 'history']);

/** The same columns as read back once the driver (or the store) has parsed the JSON ones. */
export interface DecodedJobColumns extends Omit<JobColumns, 'request' | 'errors' | 'result' | 'history'> {
  request: AiEditRequest;
  errors: StoredError[];
  result: AiEditResult | null;
  history: StoredStatusChange[];
}

export function toMs(date: Date): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('job store: invalid Date');
  return ms;
}

export const errorsJson = (errors: readonly AiEditError[]): string =>
  canonicalJson(
    errors.map(
      (e): StoredError => ({
        message: e.message,
        createdAt: toMs(e.createdAt),
        ...(e.code === undefined ? {} : { code: e.code }),
      }),
    ),
  );

export const resultJson = (result: AiEditResult | null): string | null =>
  result === null ? null : canonicalJson(result);

export const historyJson = (history: readonly StoredStatusChange[]): string => canonicalJson(history);

/** The row of a job the upstream has just accepted: its submit time is every time stamp and the first history entry. */
export function newJobColumns(id: string, job: NewJob): JobColumns {
  const at = toMs(job.at);
  const { upstream } = job;
  return {
    id,
    owner: job.owner,
    upstream_id: upstream.upstreamId,
    status: upstream.status,
    request: canonicalJson(job.request),
    request_hash: job.requestHash,
    idempotency_key: job.idempotencyKey,
    errors: errorsJson(upstream.errors),
    result: resultJson(upstream.result),
    history: historyJson([{ status: upstream.status, at }]),
    created_at: at,
    updated_at: at,
    last_polled_at: at,
    finished_at: isFinalStatus(upstream.status) ? at : null,
    send_started_at: at,
  };
}

/** The row of a job recorded before its upstream call: QUEUED, no upstream id, nothing from Claid yet. */
export function newQueuedJobColumns(id: string, job: NewQueuedJob): JobColumns {
  const at = toMs(job.at);
  return {
    id,
    owner: job.owner,
    upstream_id: null,
    status: 'QUEUED',
    request: canonicalJson(job.request),
    request_hash: job.requestHash,
    idempotency_key: job.idempotencyKey,
    errors: errorsJson([]),
    result: null,
    history: historyJson([{ status: 'QUEUED', at }]),
    created_at: at,
    updated_at: at,
    last_polled_at: at,
    finished_at: null,
    send_started_at: job.sendStartedAt === null ? null : toMs(job.sendStartedAt),
  };
}

export function jobFromColumns(row: DecodedJobColumns): Job {
  return {
    id: row.id,
    owner: row.owner,
    upstreamId: row.upstream_id,
    status: row.status as JobStatus,
    request: row.request,
    requestHash: row.request_hash,
    idempotencyKey: row.idempotency_key,
    errors: row.errors.map((e) => ({
      message: e.message,
      createdAt: new Date(e.createdAt),
      ...(e.code === undefined ? {} : { code: e.code }),
    })),
    result: row.result,
    history: row.history.map((h) => ({
      status: h.status,
      at: new Date(h.at),
      ...(h.since === undefined ? {} : { since: new Date(h.since) }),
    })),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    lastPolledAt: new Date(row.last_polled_at),
    finishedAt: row.finished_at === null ? null : new Date(row.finished_at),
  };
}
