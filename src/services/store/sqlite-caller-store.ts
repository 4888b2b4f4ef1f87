import type Database from 'better-sqlite3';
import { CREDITS_PER_IMAGE, type JobWebhook, type WebhookAttempt } from '../../domain/caller-webhook.js';
import type { Job } from '../../domain/job.js';
import {
  type AttemptOutcome,
  type CallerStore,
  type ClaimedDelivery,
  type DeliveryNext,
  utcDayStarting,
} from './caller-store.js';
import {
  ABANDONED_ATTEMPT_ERROR,
  type AttemptRow,
  attemptsByJob,
  claimedFromRow,
  type DeliveryRow,
  newWebhookId,
} from './caller-store-rows.js';
import { toMs } from './job-row-codec.js';
import { jobSnapshotJson } from './job-snapshot.js';

// The CallerStore on the job store's SQLite database. The two sync methods run inside the job store's own
// transactions, so a job's webhook is stored with the job and an event with the status change it reports.

export class SqliteCallerStore implements CallerStore {
  constructor(
    private readonly db: Database.Database,
    private readonly stmt: (sql: string) => Database.Statement,
  ) {}

  /** Inside the job's insert transaction. */
  recordJobWebhook(jobId: string, webhook: JobWebhook | null | undefined): void {
    if (!webhook) return;
    this.stmt('INSERT INTO job_webhooks (job_id, url, events) VALUES (?, ?, ?)').run(
      jobId,
      webhook.url,
      JSON.stringify(webhook.events),
    );
  }

  /** Inside the status change's transaction: one outbox row when the job's webhook asked for its new status. */
  enqueueEvent(job: Job): void {
    // Looked up first, so that the snapshot is made only for a job whose webhook wants this event (most have none).
    const wanted = this.stmt(
      `SELECT 1 AS wanted FROM job_webhooks
        WHERE job_id = ? AND EXISTS (SELECT 1 FROM json_each(job_webhooks.events) WHERE value = ?)`,
    ).get(job.id, job.status);
    if (!wanted) return;
    const atMs = toMs(job.updatedAt);
    this.stmt(
      `INSERT INTO webhook_deliveries (id, job_id, owner, url, event, job, created_at, state, attempts, next_attempt_at)
       SELECT ?, job_id, ?, url, ?, ?, ?, 'PENDING', 0, ? FROM job_webhooks WHERE job_id = ?`,
    ).run(newWebhookId(), job.owner, job.status, jobSnapshotJson(job), atMs, atMs, job.id);
  }

  async setWebhookSecret(owner: string, secret: string, at: Date): Promise<void> {
    this.stmt(
      `INSERT INTO webhook_secrets (owner, secret, created_at) VALUES (?, ?, ?)
       ON CONFLICT (owner) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`,
    ).run(owner, secret, toMs(at));
  }

  async webhookSecret(owner: string): Promise<string | null> {
    const row = this.stmt('SELECT secret FROM webhook_secrets WHERE owner = ?').get(owner) as
      | { secret: string }
      | undefined;
    return row?.secret ?? null;
  }

  async claimDueDeliveries(now: Date, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
    const nowMs = toMs(now);
    return this.db
      .transaction((): ClaimedDelivery[] => {
        const rows = this.stmt(
          `SELECT * FROM webhook_deliveries
            WHERE state = 'PENDING' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
            ORDER BY next_attempt_at LIMIT ?`,
        ).all(nowMs, nowMs, limit) as DeliveryRow[];
        return rows.map((row) => {
          this.stmt(
            `UPDATE webhook_attempts SET finished_at = ?, error = ? WHERE delivery_id = ? AND finished_at IS NULL`,
          ).run(nowMs, ABANDONED_ATTEMPT_ERROR, row.id);
          const attempt = row.attempts + 1;
          this.stmt('UPDATE webhook_deliveries SET attempts = ?, lease_until = ? WHERE id = ?').run(
            attempt,
            nowMs + leaseMs,
            row.id,
          );
          this.stmt('INSERT INTO webhook_attempts (delivery_id, attempt, at) VALUES (?, ?, ?)').run(
            row.id,
            attempt,
            nowMs,
          );
          return claimedFromRow(row, attempt);
        });
      })
      .immediate();
  }

  async finishAttempt(
    delivery: Pick<ClaimedDelivery, 'webhookId' | 'attempt'>,
    outcome: AttemptOutcome,
    next: DeliveryNext,
  ): Promise<boolean> {
    const atMs = toMs(outcome.at);
    return this.db
      .transaction((): boolean => {
        const moved = this.stmt(
          `UPDATE webhook_deliveries SET state = ?, next_attempt_at = coalesce(?, next_attempt_at), lease_until = NULL
            WHERE id = ? AND attempts = ?`,
        ).run(
          next.state,
          next.state === 'PENDING' ? toMs(next.nextAttemptAt) : null,
          delivery.webhookId,
          delivery.attempt,
        );
        if (moved.changes === 0) return false;
        this.stmt(
          `UPDATE webhook_attempts SET finished_at = ?, http_status = ?, error = ? WHERE delivery_id = ? AND attempt = ?`,
        ).run(atMs, outcome.httpStatus, outcome.error, delivery.webhookId, delivery.attempt);
        return true;
      })
      .immediate();
  }

  async listWebhookAttempts(jobIds: readonly string[]): Promise<WebhookAttempt[][]> {
    if (jobIds.length === 0) return [];
    const rows = this.stmt(
      `SELECT a.delivery_id, d.job_id, d.event, a.attempt, a.at, a.http_status, a.error
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
        WHERE d.job_id IN (SELECT value FROM json_each(?))
        ORDER BY a.at, d.created_at, a.attempt`,
    ).all(JSON.stringify(jobIds)) as AttemptRow[];
    return attemptsByJob(jobIds, rows);
  }

  async countPendingDeliveries(): Promise<number> {
    const row = this.stmt(`SELECT count(*) AS n FROM webhook_deliveries WHERE state = 'PENDING'`).get() as {
      n: number;
    };
    return row.n;
  }

  async creditsSpent(owner: string, dayStart: Date): Promise<number> {
    // The counters (migration 8): the day's row and any later one (a job stamped by a clock ahead of this one).
    const counted = this.stmt(
      'SELECT coalesce(sum(images), 0) AS images FROM caller_day_credits WHERE owner = ? AND day >= ?',
    ).get(owner, utcDayStarting(dayStart)) as { images: number };
    return CREDITS_PER_IMAGE * counted.images;
  }
}
