import type { JobWebhook, WebhookAttempt } from '../../domain/caller-webhook.js';
import type { Job } from '../../domain/job.js';

// What the store keeps for callers beside their jobs: webhook secrets, the webhook outbox (one row per event,
// written in the same transaction as the status change it reports) with its attempts, and the credits spent.

/** An event whose delivery this process has just claimed (leased) and whose attempt is already recorded. */
export interface ClaimedDelivery {
  webhookId: string;
  jobId: string;
  owner: string;
  url: string;
  event: Job['status'];
  /** The job as it was when the event happened. */
  job: Job;
  createdAt: Date;
  /** This attempt's number, 1 for the first. */
  attempt: number;
}

export interface AttemptOutcome {
  at: Date;
  httpStatus: number | null;
  error: string | null;
}

/** What becomes of a delivery after an attempt: tried again at `nextAttemptAt`, or done with. */
export type DeliveryNext = { state: 'PENDING'; nextAttemptAt: Date } | { state: 'DELIVERED' | 'GONE' | 'FAILED' };

export interface CallerStore {
  /** Replaces the owner's webhook signing secret. */
  setWebhookSecret(owner: string, secret: string, at: Date): Promise<void>;
  webhookSecret(owner: string): Promise<string | null>;

  /**
   * Leases up to `limit` pending deliveries that are due (and not leased by a live sender) until `now + leaseMs`,
   * and records their next attempt, in one transaction: two instances never claim one delivery at once
   * (PostgreSQL: FOR UPDATE SKIP LOCKED). An attempt left unfinished by a sender that died is closed as such.
   */
  claimDueDeliveries(now: Date, leaseMs: number, limit: number): Promise<ClaimedDelivery[]>;

  /**
   * Records how an attempt went and what becomes of its delivery; false (and nothing written) when the attempt is
   * no longer the delivery's latest (its lease ran out and another sender took it).
   */
  finishAttempt(
    delivery: Pick<ClaimedDelivery, 'webhookId' | 'attempt'>,
    outcome: AttemptOutcome,
    next: DeliveryNext,
  ): Promise<boolean>;

  /** Every attempt at every event of these jobs, oldest first, one list per id. Shaped for DataLoader. */
  listWebhookAttempts(jobIds: readonly string[]): Promise<WebhookAttempt[][]>;

  /** Deliveries neither delivered nor given up, of any job (for operators and tests). */
  countPendingDeliveries(): Promise<number>;

  /**
   * Credits the owner's jobs created at or after `dayStart`, a UTC midnight, cost: 2 per image asked for, except jobs
   * that ended ERROR without a result (given back). Discarded jobs (Claid refused the submit) are gone and cost
   * nothing. Read from the store's per-day counters, whatever the caller's number of jobs.
   */
  creditsSpent(owner: string, dayStart: Date): Promise<number>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The UTC day number (days since the epoch) that `dayStart` starts; a RangeError when it is not a UTC midnight. */
export function utcDayStarting(dayStart: Date): number {
  const ms = dayStart.getTime();
  if (!Number.isFinite(ms) || ms % DAY_MS !== 0) throw new RangeError(`not a UTC midnight: ${String(dayStart)}`);
  return ms / DAY_MS;
}

export type { JobWebhook };

/** The column types of the webhook tables, which are all that differs between SQLite and PostgreSQL. */
export interface WebhookColumnTypes {
  text: string;
  /** Ids, which PostgreSQL collates by byte ("C") as the jobs' ids are. */
  id: string;
  integer: string;
  /** Milliseconds since the epoch. */
  time: string;
  /** The job's webhook's events: JSON text in SQLite, text[] in PostgreSQL. */
  events: string;
}

/**
 * Migration 6 of both databases: the secret per owner, the webhook a job was submitted with, one outbox row per
 * event (written with the status change), and every attempt at it (written before it is sent). The text, spacing
 * included, is what existing databases were migrated with (SQLite keeps it in sqlite_master): change none of it.
 */
export const webhookTablesSql = (t: WebhookColumnTypes): string => `
      CREATE TABLE webhook_secrets (owner ${t.text} PRIMARY KEY, secret ${t.text} NOT NULL, created_at ${t.time} NOT NULL);
      CREATE TABLE job_webhooks (
        job_id ${t.id} PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        url    ${t.text} NOT NULL,
        events ${t.events} NOT NULL
      );
      CREATE TABLE webhook_deliveries (
        id              ${t.id} PRIMARY KEY,
        job_id          ${t.id} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        owner           ${t.text} NOT NULL,
        url             ${t.text} NOT NULL,
        event           ${t.text} NOT NULL,
        job             ${t.text} NOT NULL,
        created_at      ${t.time} NOT NULL,
        state           ${t.text} NOT NULL,
        attempts        ${t.integer} NOT NULL,
        next_attempt_at ${t.time} NOT NULL,
        lease_until     ${t.time}
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'PENDING';
      CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id);
      CREATE TABLE webhook_attempts (
        delivery_id ${t.id} NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        attempt     ${t.integer} NOT NULL,
        at          ${t.time} NOT NULL,
        finished_at ${t.time},
        http_status ${t.integer},
        error       ${t.text},
        PRIMARY KEY (delivery_id, attempt)
      );
    `;
