import { UpstreamError } from '../../domain/errors.js';
import type { Job, UpstreamTaskState } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { JobStore } from '../store/job-store.js';
import { type ClaidClient, wasCertainlyNotSent } from '../upstream/claid-client.js';
import type { JobPubSub } from './job-events.js';
import type { SubmitAnswers } from './submit-answers.js';
import type { UnsettledSubmits } from './unsettled-submits.js';

// One recorded job's upstream submit and what its outcome does to the stored job, for a submit sent at once and for
// one the submit queue sends alike. Claid has no idempotency key, so a job is sent again only when Claid certainly
// did not take it: a 429, or a request that never left this process.

export type SendOutcome =
  | { kind: 'accepted'; job: Job }
  /** A 429, or never sent: the job waits in the queue again, at its place (its createdAt). */
  | { kind: 'requeued'; rateLimited: boolean; error: unknown }
  /** Claid answered with another refusal: the task never existed there. The caller decides what the job becomes. */
  | { kind: 'refused'; error: UpstreamError }
  /** No answer once the body may have left: the job has ended ERROR (UPSTREAM_OUTCOME_UNKNOWN); never resent. */
  | { kind: 'unknown'; error: unknown };

export interface SubmitSenderDeps {
  store: JobStore;
  claid: ClaidClient;
  events: JobPubSub;
  logger: Logger;
  answers: SubmitAnswers;
  unsettled: UnsettledSubmits;
  now: () => Date;
}

export class SubmitSender {
  constructor(private readonly deps: SubmitSenderDeps) {}

  /** Sends `job` (recorded, with its send time set) to Claid and records what came of it. */
  async send(job: Job): Promise<SendOutcome> {
    let upstream: UpstreamTaskState;
    try {
      upstream = await this.deps.claid.submit(job.request);
    } catch (error) {
      return this.#failed(job, error);
    }
    return { kind: 'accepted', job: await this.deps.answers.record(job, upstream, this.deps.now()) };
  }

  /** A job refused while its caller waits: it is removed, and the caller gets Claid's error (its key is released). */
  async discard(job: Job): Promise<void> {
    await this.#settle(job, () => this.deps.store.discardQueued(job.id));
  }

  /** A queued job refused with nobody waiting: it ends ERROR with Claid's error, which its subscribers hear. */
  async endRefused(job: Job, error: UpstreamError): Promise<void> {
    const now = this.deps.now();
    await this.#settle(job, async () => {
      const [ended] = await this.deps.store.endUnsettledSubmits(
        { sentBefore: new Date(now.getTime() + 1), id: job.id },
        { code: error.code, message: `Claid refused the queued submit: ${error.message}` },
        now,
      );
      if (ended) this.deps.events.publish('job:updated', ended.id, ended);
    });
  }

  async #failed(job: Job, error: unknown): Promise<SendOutcome> {
    const status = error instanceof UpstreamError ? (error.upstream.httpStatus ?? 0) : 0;
    if (status === 429 || wasCertainlyNotSent(error)) {
      await this.#settle(job, () => this.deps.store.returnToQueue(job.id));
      return { kind: 'requeued', rateLimited: status === 429, error };
    }
    if (error instanceof UpstreamError && status >= 300) return { kind: 'refused', error };
    await this.#settle(job, () => this.deps.unsettled.endOne(job.id));
    return { kind: 'unknown', error: outcomeUnknownError(error) };
  }

  async #settle(job: Job, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      // Left with its send time: the periodic settling ends it as UPSTREAM_OUTCOME_UNKNOWN once the store answers.
      this.deps.logger.warn({ err, jobId: job.id }, 'could not settle a failed submit yet');
    }
  }
}

/** The error a caller who waited for an unknown-outcome submit gets: it says the job is kept and not resent. */
function outcomeUnknownError(error: unknown): unknown {
  if (!(error instanceof UpstreamError)) return error;
  return new UpstreamError(
    // An UpstreamError's code is always an UPSTREAM_ one (its constructor takes no other).
    error.code as ConstructorParameters<typeof UpstreamError>[0],
    `${error.message}. Claid may have taken (and will charge) it: the job is kept as ERROR ` +
      '(UPSTREAM_OUTCOME_UNKNOWN) and not sent again.',
    error.upstream,
    error.retryAfterSeconds,
  );
}
