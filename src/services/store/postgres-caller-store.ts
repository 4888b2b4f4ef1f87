import type pg from 'pg';
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
import type { PostgresPool } from './postgres-pool.js';

// The CallerStore on the job store's PostgreSQL database. recordJobWebhook and enqueueEvent run on the job store's
// transaction client, so a job's webhook is stored with the job and an event with the status change it reports.
// Deliveries are claimed with FOR UPDATE SKIP LOCKED: of several instances polling the outbox, one takes each row.

export class PostgresCallerStore implements CallerStore {
  readonly #secrets: string;
  readonly #webhooks: string;
  readonly #deliveries: string;
  readonly #attempts: string;
  readonly #dayCredits: string;

  /** `prefix` is the quoted schema and a dot, or empty. */
  constructor(
    private readonly pool: PostgresPool,
    prefix: string,
  ) {
    this.#secrets = `${prefix}webhook_secrets`;
    this.#webhooks = `${prefix}job_webhooks`;
    this.#deliveries = `${prefix}webhook_deliveries`;
    this.#attempts = `${prefix}webhook_attempts`;
    this.#dayCredits = `${prefix}caller_day_credits`;
  }

  async recordJobWebhook(client: pg.PoolClient, jobId: string, webhook: JobWebhook | null | undefined) {
    if (!webhook) return;
    await client.query(`INSERT INTO ${this.#webhooks} (job_id, url, events) VALUES ($1, $2, $3::text[])`, [
      jobId,
      webhook.url,
      [...webhook.events],
    ]);
  }

  /**
   * enqueueEvent as a statement of a CTE, for a write that changes a job and queues its event in one statement:
   * `changed` names the CTE whose rows are the changed job (one, or none when the write matched nothing); the
   * parameters are numbered from `firstParam`.
   */
  eventInsertAfter(changed: string, job: Job, firstParam: number): { sql: string; params: unknown[] } {
    const [id, owner, event, snapshot, atMs] = [0, 1, 2, 3, 4].map((i) => `$${firstParam + i}`);
    return {
      sql: `INSERT INTO ${this.#deliveries}
                   (id, job_id, owner, url, event, job, created_at, state, attempts, next_attempt_at)
            SELECT ${id}, w.job_id, ${owner}, w.url, ${event}, ${snapshot}, ${atMs}, 'PENDING', 0, ${atMs}
              FROM ${this.#webhooks} w JOIN ${changed} c ON c.id = w.job_id
             WHERE ${event} = ANY(w.events)`,
      params: [newWebhookId(), job.owner, job.status, jobSnapshotJson(job), toMs(job.updatedAt)],
    };
  }

  async enqueueEvent(client: pg.PoolClient, job: Job): Promise<void> {
    const atMs = toMs(job.updatedAt);
    await client.query(
      `INSERT INTO ${this.#deliveries}
              (id, job_id, owner, url, event, job, created_at, state, attempts, next_attempt_at)
       SELECT $1, job_id, $2, url, $3, $4, $5, 'PENDING', 0, $5 FROM ${this.#webhooks}
        WHERE job_id = $6 AND $3 = ANY(events)`,
      [newWebhookId(), job.owner, job.status, jobSnapshotJson(job), atMs, job.id],
    );
  }

  async setWebhookSecret(owner: string, secret: string, at: Date): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.#secrets} (owner, secret, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (owner) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`,
      [owner, secret, toMs(at)],
    );
  }

  async webhookSecret(owner: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ secret: string }>(`SELECT secret FROM ${this.#secrets} WHERE owner = $1`, [
      owner,
    ]);
    return rows[0]?.secret ?? null;
  }

  async claimDueDeliveries(now: Date, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
    const nowMs = toMs(now);
    return this.pool.transaction(async (client) => {
      const { rows } = await client.query<DeliveryRow>(
        `UPDATE ${this.#deliveries} d SET attempts = d.attempts + 1, lease_until = $2
           FROM (SELECT id FROM ${this.#deliveries}
                  WHERE state = 'PENDING' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                  ORDER BY next_attempt_at LIMIT $3
                  FOR UPDATE SKIP LOCKED) due
          WHERE d.id = due.id
          RETURNING d.*`,
        [nowMs, nowMs + leaseMs, limit],
      );
      if (rows.length === 0) return [];
      const ids = rows.map((row) => row.id);
      await client.query(
        `UPDATE ${this.#attempts} SET finished_at = $1, error = $2 WHERE delivery_id = ANY($3::text[]) AND finished_at IS NULL`,
        [nowMs, ABANDONED_ATTEMPT_ERROR, ids],
      );
      await client.query(
        `INSERT INTO ${this.#attempts} (delivery_id, attempt, at)
         SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])`,
        [ids, rows.map((row) => row.attempts), rows.map(() => nowMs)],
      );
      return rows.map((row) => claimedFromRow(row, row.attempts));
    });
  }

  async finishAttempt(
    delivery: Pick<ClaimedDelivery, 'webhookId' | 'attempt'>,
    outcome: AttemptOutcome,
    next: DeliveryNext,
  ): Promise<boolean> {
    return this.pool.transaction(async (client) => {
      const moved = await client.query(
        `UPDATE ${this.#deliveries}
            SET state = $1, next_attempt_at = coalesce($2, next_attempt_at), lease_until = NULL
          WHERE id = $3 AND attempts = $4`,
        [next.state, next.state === 'PENDING' ? toMs(next.nextAttemptAt) : null, delivery.webhookId, delivery.attempt],
      );
      if (moved.rowCount === 0) return false;
      await client.query(
        `UPDATE ${this.#attempts} SET finished_at = $1, http_status = $2, error = $3
          WHERE delivery_id = $4 AND attempt = $5`,
        [toMs(outcome.at), outcome.httpStatus, outcome.error, delivery.webhookId, delivery.attempt],
      );
      return true;
    });
  }

  async listWebhookAttempts(jobIds: readonly string[]): Promise<WebhookAttempt[][]> {
    if (jobIds.length === 0) return [];
    const { rows } = await this.pool.query<AttemptRow>(
      `SELECT a.delivery_id, d.job_id, d.event, a.attempt, a.at, a.http_status, a.error
         FROM ${this.#attempts} a JOIN ${this.#deliveries} d ON d.id = a.delivery_id
        WHERE d.job_id = ANY($1::text[])
        ORDER BY a.at, d.created_at, a.attempt`,
      [[...jobIds]],
    );
    return attemptsByJob(jobIds, rows);
  }

  async countPendingDeliveries(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.#deliveries} WHERE state = 'PENDING'`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  async creditsSpent(owner: string, dayStart: Date): Promise<number> {
    // The counters (migration 7): the day's row and any later one (a job stamped by a clock ahead of this one).
    const { rows } = await this.pool.query<{ images: string }>(
      `SELECT coalesce(sum(images), 0) AS images FROM ${this.#dayCredits} WHERE owner = $1 AND day >= $2`,
      [owner, utcDayStarting(dayStart)],
    );
    return CREDITS_PER_IMAGE * Number(rows[0]?.images ?? 0);
  }
}
