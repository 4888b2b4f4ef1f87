import { randomUUID } from 'node:crypto';
import type { WebhookAttempt } from '../../domain/caller-webhook.js';
import type { JobStatus } from '../../domain/job.js';
import type { ClaimedDelivery } from './caller-store.js';
import { jobFromSnapshot } from './job-snapshot.js';

// Rows of the webhook tables as both stores read them (PostgreSQL hands bigints over as strings).

export interface DeliveryRow {
  id: string;
  job_id: string;
  owner: string;
  url: string;
  event: JobStatus;
  job: string;
  created_at: number | string;
  attempts: number;
}

export interface AttemptRow {
  delivery_id: string;
  job_id: string;
  event: JobStatus;
  attempt: number;
  at: number | string;
  http_status: number | null;
  error: string | null;
}

/** What an attempt left open by a sender that stopped (kill -9, lost lease) is closed with. */
export const ABANDONED_ATTEMPT_ERROR = 'no outcome recorded: the sender stopped or its lease ran out';

const attemptFromRow = (row: AttemptRow): WebhookAttempt => ({
  webhookId: row.delivery_id,
  jobId: row.job_id,
  event: row.event,
  attempt: Number(row.attempt),
  at: new Date(Number(row.at)),
  httpStatus: row.http_status === null ? null : Number(row.http_status),
  error: row.error,
});

/** Standard Webhooks ids are opaque; `msg_` as in the specification's examples. */
export const newWebhookId = (): string => `msg_${randomUUID().replaceAll('-', '')}`;

export function claimedFromRow(row: DeliveryRow, attempt: number): ClaimedDelivery {
  return {
    webhookId: row.id,
    jobId: row.job_id,
    owner: row.owner,
    url: row.url,
    event: row.event,
    job: jobFromSnapshot(row.job),
    createdAt: new Date(Number(row.created_at)),
    attempt,
  };
}

/** The attempts of `rows`, one list per id of `jobIds`, in its order (an empty list for a job without any). */
export function attemptsByJob(jobIds: readonly string[], rows: readonly AttemptRow[]): WebhookAttempt[][] {
  const byJob = new Map<string, WebhookAttempt[]>(jobIds.map((id) => [id, []]));
  for (const row of rows) byJob.get(row.job_id)?.push(attemptFromRow(row));
  return jobIds.map((id) => byJob.get(id) ?? []);
}
