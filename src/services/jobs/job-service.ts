import { parseAiEditRequest } from '../../domain/ai-edit-request.js';
import { hashAiEditRequest } from '../../domain/ai-edit-request-hash.js';
import type { JobWebhook } from '../../domain/caller-webhook.js';
import { BadUserInputError } from '../../domain/errors.js';
import { type AiEditRequest, isFinalStatus, type Job } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { JobStore, ListJobsPage, ListJobsQuery } from '../store/job-store.js';
import type { ClaidClient } from '../upstream/claid-client.js';
import { IdempotencyClaims, idempotencyKeyReused } from './idempotency-claims.js';
import type { JobPubSub } from './job-events.js';
import type { JobRefresher } from './job-refresher.js';
import { SubmitAnswers } from './submit-answers.js';
import { SubmitQueue, type SubmitQueueDeps } from './submit-queue.js';
import { SubmitSender } from './submit-sender.js';
import { UnsettledSubmits } from './unsettled-submits.js';

export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
// PostgreSQL text cannot hold NUL, and no client means a key with control characters on purpose.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

export interface SubmitParams {
  owner: string;
  /** The request as the caller gave it; validated here. */
  request: unknown;
  idempotencyKey?: string | null | undefined;
  /** The caller's webhook for this job (validated by services/webhooks), stored with the job. */
  webhook?: JobWebhook | null | undefined;
}

export interface JobServiceDeps {
  store: JobStore;
  claid: ClaidClient;
  refresher: JobRefresher;
  events: JobPubSub;
  logger: Logger;
  pollIntervalMs: number;
  /** Starts polling a new job (the JobPoller). */
  poller?: { track(job: Job): void };
  /**
   * How long an idempotency claim without a job is waited for before it is taken over (its submit died before
   * recording the job): the upstream timeout plus a margin. Also how old another process's unsettled submit must be
   * before it counts as abandoned, unless abandonedSubmitAfterMs says otherwise.
   */
  claimWaitMs: number;
  /** 0 when this process is alone on its store: every unsettled submit but its own is then abandoned at once. */
  abandonedSubmitAfterMs?: number;
  /**
   * Spend limits: admits one upstream submit for an owner or throws (RATE_LIMITED); the returned release is called
   * once the submit is stored or has failed. Replays of an idempotency key make no upstream call and are not asked.
   */
  admitSubmit?: (owner: string, request: AiEditRequest) => Promise<() => void>;
  /** The generation budget (upstream/generation-budget.ts), for a generation the submit queue could not use. */
  generations?: SubmitQueueDeps['generations'];
  /**
   * The request budget, which grants a submit its token together with a generation: a submit is sent at once only
   * when both would be granted without waiting (canGrantSubmitNow); otherwise it is queued, and the submit queue
   * takes a token before it claims a job. Absent: always at once, unless jobs wait already (order is kept) or Claid
   * answers 429.
   */
  requests?: (SubmitQueueDeps['requests'] & { canGrantSubmitNow(): Promise<boolean> }) | undefined;
  /** How often the submit queue looks for jobs queued elsewhere; default 1000 ms. */
  queueCheckMs?: number;
  now?: () => Date;
}

/** Submits, reads and lists AI Edit jobs for one owner at a time. */
export class JobService {
  private readonly pendingSubmits = new Map<string, Promise<Job>>();
  /** Jobs recorded by this process whose upstream call is under way. */
  private readonly sending = new Set<string>();
  private readonly now: () => Date;
  private readonly claims: IdempotencyClaims;
  private readonly answers: SubmitAnswers;
  private readonly sender: SubmitSender;
  readonly unsettled: UnsettledSubmits;
  /** Sends queued jobs in order as the budgets allow; started by the gateway once it listens. */
  readonly queue: SubmitQueue;

  constructor(private readonly deps: JobServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.claims = new IdempotencyClaims({
      store: deps.store,
      findOwned: (owner, id) => this.findOwned(owner, id),
      staleAfterMs: deps.claimWaitMs,
      now: this.now,
    });
    this.answers = new SubmitAnswers({
      store: deps.store,
      events: deps.events,
      logger: deps.logger,
      poller: deps.poller,
    });
    this.unsettled = new UnsettledSubmits({
      store: deps.store,
      events: deps.events,
      logger: deps.logger,
      heldIds: () => [...this.sending, ...this.queue.heldIds(), ...this.answers.heldIds()],
      abandonedAfterMs: deps.abandonedSubmitAfterMs ?? deps.claimWaitMs,
      now: this.now,
    });
    const { store, claid, events, logger } = deps;
    this.sender = new SubmitSender({
      store,
      claid,
      events,
      logger,
      answers: this.answers,
      unsettled: this.unsettled,
      now: this.now,
    });
    this.queue = new SubmitQueue({
      store,
      sender: this.sender,
      logger: logger.child({ component: 'submit-queue' }),
      generations: deps.generations,
      requests: deps.requests,
      ...(deps.queueCheckMs === undefined ? {} : { idleCheckMs: deps.queueCheckMs }),
      now: this.now,
    });
  }

  async submit({ owner, request: raw, idempotencyKey, webhook = null }: SubmitParams): Promise<Job> {
    const request = parseAiEditRequest(raw);
    const key = idempotencyKey ?? null;
    if (key !== null && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || CONTROL_CHARACTERS.test(key))) {
      throw new BadUserInputError(
        `input.idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable characters`,
        'input.idempotencyKey',
      );
    }
    const requestHash = hashAiEditRequest(request);
    if (key === null) return this.submitNew(owner, request, requestHash, null, webhook);

    const pendingKey = `${owner}\u0000${key}`;
    const pending = this.pendingSubmits.get(pendingKey);
    if (pending) return this.sameRequestOrRefuse(await pending, requestHash);

    const settled = await this.claims.settle(owner, key, requestHash);
    if (!settled.claimed) return settled.job;

    const submitting = this.submitNew(owner, request, requestHash, key, webhook).catch(async (error: unknown) => {
      // Only a claim left without a job is released (a job Claid refused was discarded), so a retry may use the key.
      await this.deps.store.releaseIdempotencyKey(owner, key).catch((err: unknown) => {
        this.deps.logger.warn({ err, owner }, 'could not release an idempotency key; it is taken over once stale');
      });
      throw error;
    });
    this.pendingSubmits.set(pendingKey, submitting);
    try {
      return await submitting;
    } finally {
      this.pendingSubmits.delete(pendingKey);
    }
  }

  /** Answers still waiting for the store are logged; the periodic settling of abandoned submits stops. */
  async stop(): Promise<void> {
    await this.queue.stop();
    await this.unsettled.stop();
    await this.answers.stop();
  }

  private async submitNew(
    owner: string,
    request: AiEditRequest,
    requestHash: string,
    idempotencyKey: string | null,
    webhook: JobWebhook | null,
  ): Promise<Job> {
    const release = await this.deps.admitSubmit?.(owner, request);
    try {
      const at = this.now();
      const atOnce = await this.mayGoAtOnce();
      // Recorded before the upstream call: if this process dies during it, the job (and its key) is still there.
      // Without a send time it waits in the queue, which sends it as the budgets allow.
      const queued = await this.deps.store.insertQueued({
        owner,
        request,
        requestHash,
        idempotencyKey,
        at,
        sendStartedAt: atOnce ? at : null,
        webhook,
      });
      // From here the stored QUEUED job counts against MAX_UNFINISHED_JOBS itself: counting it as in flight too
      // would count it twice.
      release?.();
      if (!atOnce) {
        this.queue.notify();
        return queued;
      }
      this.sending.add(queued.id);
      try {
        return await this.sendAtOnce(queued);
      } finally {
        this.sending.delete(queued.id);
      }
    } finally {
      release?.();
    }
  }

  /** Jobs waiting go first (send order is submit order); then the budgets must grant without waiting. */
  private async mayGoAtOnce(): Promise<boolean> {
    if ((await this.deps.store.countWaiting()) > 0) return false;
    return this.deps.requests ? this.deps.requests.canGrantSubmitNow() : true;
  }

  private async sendAtOnce(job: Job): Promise<Job> {
    const outcome = await this.sender.send(job);
    switch (outcome.kind) {
      case 'accepted':
        return outcome.job;
      case 'requeued':
        // Claid said 429 (or the request never left): the caller gets the job QUEUED rather than an error.
        this.deps.logger.info(
          { jobId: job.id, owner: job.owner, rateLimited: outcome.rateLimited },
          'a submit Claid did not take now is queued',
        );
        this.queue.notify();
        return job;
      case 'refused':
        await this.sender.discard(job);
        throw outcome.error;
      case 'unknown':
        throw outcome.error;
    }
  }

  /** The job's 1-based place among the jobs waiting to be sent; null when it does not wait. */
  async queuePosition(job: Job): Promise<number | null> {
    if (job.status !== 'QUEUED' || job.upstreamId !== null) return null;
    const [position] = await this.deps.store.queuePositions([job.id]);
    return position ?? null;
  }

  private sameRequestOrRefuse(job: Job, requestHash: string): Job {
    if (job.requestHash !== requestHash) throw idempotencyKeyReused();
    return job;
  }

  private async findOwned(owner: string, id: string): Promise<Job | null> {
    const [job] = await this.findJobs(owner, [id]);
    return job ?? null;
  }

  /**
   * Jobs by id for one owner, in order; another owner's job is null, exactly like an unknown one. Unfinished jobs
   * whose last upstream read is older than the poll interval are refreshed first. Shaped for DataLoader.
   */
  async loadJobs(owner: string, ids: readonly string[]): Promise<(Job | null)[]> {
    const jobs = await this.deps.store.findByIds(ids);
    const now = this.now().getTime();
    return Promise.all(
      jobs.map((job) => {
        if (!job || job.owner !== owner) return null;
        if (!isFinalStatus(job.status) && now - job.lastPolledAt.getTime() >= this.deps.pollIntervalMs) {
          return this.deps.refresher.refresh(job);
        }
        return job;
      }),
    );
  }

  /**
   * Jobs by id for one owner exactly as stored, never waiting for an upstream read; another owner's job is null.
   * A subscription starts from this, so its first event comes at once; the poller brings what changed since.
   */
  async findJobs(owner: string, ids: readonly string[]): Promise<(Job | null)[]> {
    const jobs = await this.deps.store.findByIds(ids);
    return jobs.map((job) => (job && job.owner === owner ? job : null));
  }

  listJobs(query: ListJobsQuery): Promise<ListJobsPage> {
    return this.deps.store.listJobs(query);
  }
}
