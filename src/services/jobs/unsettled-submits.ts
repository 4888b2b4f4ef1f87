import type { Logger } from '../../lib/logger.js';
import type { GatewayJobError, JobStore } from '../store/job-store.js';
import type { JobPubSub } from './job-events.js';

// A job recorded before its upstream call whose answer never arrived (the process died mid-submit, or the call
// timed out after the body left) cannot be resent: Claid may have the task and bill it twice. It ends ERROR with a
// code and a message that say so, and its idempotency key keeps pointing at it.

export const UNKNOWN_OUTCOME: GatewayJobError = {
  code: 'UPSTREAM_OUTCOME_UNKNOWN',
  message:
    'The gateway sent this job to Claid but never learned whether Claid took it, so it may have been charged. ' +
    'It is not sent again; submit it anew (with a new idempotency key) if no result reached you.',
};

const LATER_SWEEP_MIN_AGE_MS = 2_000;

export interface UnsettledSubmitsDeps {
  store: JobStore;
  events: JobPubSub;
  logger: Logger;
  /** Jobs this process still settles itself (submits under way, answers waiting for the store). */
  heldIds: () => string[];
  /**
   * How old a send must be before another process's job counts as abandoned: the upstream timeout plus a margin.
   * 0 when this process is the only one on the store (then every unsettled job but its own is abandoned).
   */
  abandonedAfterMs: number;
  now?: () => Date;
}

export class UnsettledSubmits {
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #sweeping: Promise<unknown> | undefined;

  constructor(private readonly deps: UnsettledSubmitsDeps) {}

  /** Ends abandoned submits now (a restart) and then every `intervalMs`; returns how many ended now. */
  async start(intervalMs: number): Promise<number> {
    // A live submit may wait long for the budget or for Claid: renew its send time well within the threshold at
    // which another process would end it as abandoned.
    const { abandonedAfterMs } = this.deps;
    if (abandonedAfterMs > 0) {
      this.#heartbeat = setInterval(
        () => {
          const ids = this.deps.heldIds();
          if (ids.length === 0) return;
          this.deps.store
            .renewSendStarted(ids, this.now())
            .catch((err: unknown) => this.deps.logger.warn({ err }, 'could not renew the send time of submits'));
        },
        Math.max(250, Math.floor(abandonedAfterMs / 3)),
      );
      this.#heartbeat.unref();
    }
    // Later runs leave a send a moment (alone on the store, abandonedAfterMs is 0): a job this process has just
    // claimed may not be among its held ids yet.
    const laterMinAgeMs = Math.max(abandonedAfterMs, LATER_SWEEP_MIN_AGE_MS);
    this.#timer = setInterval(() => {
      this.#sweeping ??= this.sweep(laterMinAgeMs)
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'could not settle abandoned submits'))
        .finally(() => {
          this.#sweeping = undefined;
        });
    }, intervalMs);
    this.#timer.unref();
    return this.sweep();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#heartbeat);
    await this.#sweeping;
  }

  /** Ends every abandoned submit; each is logged (an operator may find the task upstream by its request). */
  async sweep(minAgeMs = this.deps.abandonedAfterMs): Promise<number> {
    const now = this.now();
    const ended = await this.deps.store.endUnsettledSubmits(
      { sentBefore: new Date(now.getTime() - minAgeMs), except: this.deps.heldIds() },
      UNKNOWN_OUTCOME,
      now,
    );
    for (const job of ended) {
      this.deps.logger.warn(
        { jobId: job.id, owner: job.owner, createdAt: job.createdAt },
        'ended a submit whose outcome is unknown (UPSTREAM_OUTCOME_UNKNOWN): Claid may have taken and charged it',
      );
      this.deps.events.publish('job:updated', job.id, job);
    }
    return ended.length;
  }

  /** Ends one job whose submit this process gave up on with an unknown outcome. */
  async endOne(id: string): Promise<void> {
    const now = this.now();
    const [job] = await this.deps.store.endUnsettledSubmits(
      { sentBefore: new Date(now.getTime() + 1), id },
      UNKNOWN_OUTCOME,
      now,
    );
    if (job) this.deps.events.publish('job:updated', job.id, job);
  }

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }
}
