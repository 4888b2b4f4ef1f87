import { setTimeout as sleep } from 'node:timers/promises';
import { isFinalStatus, type Job, type UpstreamTaskState } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { JobStore } from '../store/job-store.js';
import { type JobPubSub, publishJobUpdated } from './job-events.js';

// Claid has accepted (and will bill) a submit: its answer must reach the store whatever happens to the store. Until
// it lands it is kept here and retried; the caller is answered at once from it, since the answer is already known.

export interface SubmitAnswersDeps {
  store: JobStore;
  events: JobPubSub;
  logger: Logger;
  poller?: { track(job: Job): void } | undefined;
  /** Waits between attempts while the store refuses; the last one repeats. Default 250 ms doubling to 2 s. */
  retryDelaysMs?: readonly number[];
}

interface Unlanded {
  job: Job;
  upstream: UpstreamTaskState;
  at: Date;
}

const DEFAULT_RETRY_DELAYS_MS = [250, 500, 1000, 2000];

export class SubmitAnswers {
  readonly #unlanded = new Map<string, Unlanded>();
  readonly #retries = new Set<Promise<void>>();
  readonly #delays: readonly number[];
  #stopped = false;

  constructor(private readonly deps: SubmitAnswersDeps) {
    this.#delays = deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  }

  /** Records the answer to `job`'s submit; if the store refuses, keeps retrying and answers from memory meanwhile. */
  async record(job: Job, upstream: UpstreamTaskState, at: Date): Promise<Job> {
    try {
      return await this.#land(job, upstream, at);
    } catch (err) {
      this.deps.logger.error(
        { err, jobId: job.id, upstreamId: upstream.upstreamId, owner: job.owner },
        'Claid accepted a submit the store could not record yet; retrying until it lands',
      );
      this.#unlanded.set(job.id, { job, upstream, at });
      const retry = this.#retry(job.id).finally(() => this.#retries.delete(retry));
      this.#retries.add(retry);
      return answered(job, upstream, at);
    }
  }

  /** Jobs whose answer this process still holds: nobody else may end them. */
  heldIds(): string[] {
    return [...this.#unlanded.keys()];
  }

  /** Stops retrying; each answer still held is logged with its upstream id, so that it can be recovered by hand. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#retries]);
    for (const { job, upstream } of this.#unlanded.values()) {
      this.deps.logger.error(
        { jobId: job.id, upstreamId: upstream.upstreamId, owner: job.owner },
        'stopped before the store recorded a submit Claid accepted',
      );
    }
  }

  async #land(job: Job, upstream: UpstreamTaskState, at: Date): Promise<Job> {
    // `job` as recorded before the send: a store may write the answer against it without reading the row back.
    const applied = await this.deps.store.applyUpstreamState(job.id, upstream, at, true, job);
    if (!applied) throw new Error('the recorded job vanished before its submit answer landed');
    publishJobUpdated(this.deps.events, applied.job);
    this.deps.poller?.track(applied.job);
    return applied.job;
  }

  async #retry(jobId: string): Promise<void> {
    for (let attempt = 0; !this.#stopped; attempt++) {
      await sleep(this.#delays[Math.min(attempt, this.#delays.length - 1)] ?? 1000);
      const held = this.#unlanded.get(jobId);
      if (!held) return;
      try {
        await this.#land(held.job, held.upstream, held.at);
        this.#unlanded.delete(jobId);
        this.deps.logger.info(
          { jobId, upstreamId: held.upstream.upstreamId, attempts: attempt + 2 },
          'recorded a submit Claid had accepted while the store was away',
        );
        return;
      } catch {
        // Still refused: the outage itself is logged by the store; keep the answer and try again.
      }
    }
  }
}

/** The job as the store will hold it once the answer lands (what the caller is told meanwhile). */
function answered(job: Job, upstream: UpstreamTaskState, at: Date): Job {
  return {
    ...job,
    upstreamId: upstream.upstreamId,
    status: upstream.status,
    errors: upstream.errors,
    result: upstream.result,
    history: [...job.history, { status: upstream.status, at }],
    updatedAt: at,
    lastPolledAt: at,
    finishedAt: isFinalStatus(upstream.status) ? at : null,
  };
}
