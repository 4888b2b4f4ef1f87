import type { AiEditError, AiEditResult, JobStatus, StatusChange } from '../../domain/job.js';
import { canonicalJson } from '../../lib/canonical-json.js';

// How a job's nested values are kept in a SQL row, shared by the SQLite and PostgreSQL stores so that both store,
// compare and revive them identically: times as epoch milliseconds, JSON as canonical text.

export interface StoredError {
  message: string;
  createdAt: number;
}

export interface StoredStatusChange {
  status: JobStatus;
  at: number;
}

export function toMs(date: Date): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('job store: invalid Date');
  return ms;
}

export const errorsJson = (errors: readonly AiEditError[]): string =>
  canonicalJson(errors.map((e): StoredError => ({ message: e.message, createdAt: toMs(e.createdAt) })));

export const resultJson = (result: AiEditResult | null): string | null =>
  result === null ? null : canonicalJson(result);

export const historyJson = (history: readonly StoredStatusChange[]): string => canonicalJson(history);

export const errorsFromStored = (errors: readonly StoredError[]): AiEditError[] =>
  errors.map((e) => ({ message: e.message, createdAt: new Date(e.createdAt) }));

export const historyFromStored = (history: readonly StoredStatusChange[]): StatusChange[] =>
  history.map((h) => ({ status: h.status, at: new Date(h.at) }));
