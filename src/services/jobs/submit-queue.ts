import { setTimeout as sleep } from 'node:timers/promises';
import { isStoreUnavailable } from '../../domain/errors.js';
import type { Job } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { JobStore } from '../store/job-store.js';
import type { SendOutcome, SubmitSender } from './submit-sender.js';

// The durable submit queue's dispatcher. A job that could not be sent at once waits in the store (QUEUED, no send
// time); every instance runs one of these, and each turn it
//   1. looks whether any job waits (cheap: the jobs_waiting index),
//   2. waits for a submit's request token, which the request budget grants together with a generation (both
//      budgets are shared across instances),
//   3. claims the oldest waiting job (its send time set atomically: FOR UPDATE SKIP LOCKED / IMMEDIATE), and
//   4. sends it right away with the token it holds, so that only the claim lies between the grant and the body
//      leaving (a claim slow enough to make the token stale waits for a fresh one: rate-budget.ts FRESH_GRANT_MS).
// A claimed job follows the submit rules (submit-sender.ts); if this process dies with it, whether Claid took it
// cannot be known, and the unsettled-submit sweep ends it UPSTREAM_OUTCOME_UNKNOWN: it is never sent twice.

export interface SubmitQueueDeps {
  store: JobStore;
  sender: SubmitSender;
  logger: Logger;
  /** The generation budget, for a generation granted but not used (another instance took the last job). */
  generations?: { giveBack(): Promise<void> } | undefined;
  /** The request budget: a token (and with it a generation) is taken before the claim and spent by the submit. */
  requests?:
    | {
        acquire(kind: 'submit', options: { signal: AbortSignal }): Promise<void>;
        withGrantedToken<T>(grantedAt: number, fn: () => Promise<T>): Promise<T>;
      }
    | undefined;
  /** How often the store is asked for jobs queued elsewhere (another instance, a previous run). Default 1000. */
  idleCheckMs?: number;
  /** Sends under way at once (each holds a claimed job). Default 8. */
  maxInFlight?: number;
  now?: () => Date;
}

/** Longest wait after a submit that never left (Claid unreachable) before the next try. */
const MAX_BACKOFF_MS = 30_000;

export class SubmitQueue {
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #stopping = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /** A notify() that came while the loop was busy: the next idle ends at once. */
  #notified = false;
  #backoffMs = 0;

  constructor(private readonly deps: SubmitQueueDeps) {}

  /** Starts sending what waits (also what a previous run or another instance left). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** A job was queued here: look now rather than at the next idle check. */
  notify(): void {
    this.#notified = true;
    this.#wake?.();
  }

  /** Jobs this process has claimed and is sending: nobody else may end them. */
  heldIds(): string[] {
    return [...this.#inFlight.keys()];
  }

  /** Stops claiming; sends under way finish (each bounded by the upstream timeout). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#wake?.();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  async #run(): Promise<void> {
    const { signal } = this.#stopping;
    while (!signal.aborted) {
      try {
        if (!(await this.#sendNext(signal))) await this.#idle();
      } catch (err) {
        if (signal.aborted) return;
        // The store logs its own outage, once; the queue just looks again.
        if (!isStoreUnavailable(err)) this.deps.logger.warn({ err }, 'submit queue: could not send the next job');
        await this.#idle();
      }
    }
  }

  /** Claims and starts sending the oldest waiting job once the budgets allow; false when none waits. */
  async #sendNext(signal: AbortSignal): Promise<boolean> {
    if (this.#inFlight.size >= (this.deps.maxInFlight ?? 8)) {
      await Promise.race(this.#inFlight.values());
      return true;
    }
    if (this.#backoffMs > 0) await sleep(this.#backoffMs, undefined, { signal }).catch(() => undefined);
    if (signal.aborted || (await this.deps.store.countWaiting()) === 0) return false;
    await this.deps.requests?.acquire('submit', { signal });
    const grantedAt = Date.now();
    const job = await this.deps.store.claimNextQueued(this.#now());
    if (!job) {
      // Another instance took the last one meanwhile; the request token is spent unused (rare).
      await this.deps.generations?.giveBack();
      return false;
    }
    const sending = this.#send(job, grantedAt).finally(() => this.#inFlight.delete(job.id));
    this.#inFlight.set(job.id, sending);
    return true;
  }

  async #send(job: Job, grantedAt: number): Promise<void> {
    const send = () => this.deps.sender.send(job);
    let outcome: SendOutcome;
    try {
      outcome = await (this.deps.requests ? this.deps.requests.withGrantedToken(grantedAt, send) : send());
    } catch (err) {
      this.deps.logger.error({ err, jobId: job.id }, 'submit queue: sending a claimed job failed');
      return;
    }
    const waitedMs = this.#now().getTime() - job.createdAt.getTime();
    const details = { jobId: job.id, owner: job.owner, waitedMs };
    switch (outcome.kind) {
      case 'accepted':
        this.#backoffMs = 0;
        this.deps.logger.info({ ...details, upstreamId: outcome.job.upstreamId }, 'sent a queued submit');
        return;
      case 'requeued':
        // A 429 pauses the request budget itself; a submit that never left backs off here, doubling.
        if (!outcome.rateLimited) this.#backoffMs = Math.min(Math.max(500, this.#backoffMs * 2), MAX_BACKOFF_MS);
        this.deps.logger.info(
          { ...details, err: outcome.error, rateLimited: outcome.rateLimited },
          'a queued submit went back to its place in the queue',
        );
        return;
      case 'refused':
        await this.deps.sender.endRefused(job, outcome.error);
        this.deps.logger.warn({ ...details, err: outcome.error }, 'Claid refused a queued submit: the job ended ERROR');
        return;
      case 'unknown':
        this.deps.logger.warn(
          { ...details, err: outcome.error },
          'a queued submit got no answer: ended UPSTREAM_OUTCOME_UNKNOWN, not sent again',
        );
        return;
    }
  }

  #idle(): Promise<void> {
    if (this.#notified) {
      this.#notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.deps.idleCheckMs ?? 1000);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.#notified = false;
        if (self.#wake === done) self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  #now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }
}
