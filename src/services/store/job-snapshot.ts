import type { Job } from '../../domain/job.js';

// A job as it was when a webhook event was recorded, kept with the event so that a PROCESSING delivery retried after
// the job is DONE still tells what happened at PROCESSING. JSON with dates as ISO strings, revived by name.

export const jobSnapshotJson = (job: Job): string => JSON.stringify(job);

const date = (value: unknown): Date => new Date(value as string);
const dateOrNull = (value: unknown): Date | null => (value === null || value === undefined ? null : date(value));

export function jobFromSnapshot(json: string): Job {
  const raw = JSON.parse(json) as Record<string, unknown> & Job;
  return {
    ...raw,
    createdAt: date(raw.createdAt),
    updatedAt: date(raw.updatedAt),
    lastPolledAt: date(raw.lastPolledAt),
    finishedAt: dateOrNull(raw.finishedAt),
    errors: raw.errors.map((error) => ({ ...error, createdAt: date(error.createdAt) })),
    history: raw.history.map((change) => ({
      ...change,
      at: date(change.at),
      ...(change.since ? { since: date(change.since) } : {}),
    })),
  };
}
