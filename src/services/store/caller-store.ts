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
   * Credits the owner's jobs created at or after `since` cost: 2 per image asked for, except jobs that ended
   * ERROR without a result (given back). Discarded jobs (Claid refused the submit) are gone and cost nothing.
   */
  creditsSpent(owner: string, since: Date): Promise<number>;
}

export type { JobWebhook };
