import { setTimeout as sleep } from 'node:timers/promises';
import { hashAiEditRequest, parseAiEditRequest } from '../../domain/ai-edit-request.js';
import { BadUserInputError, GatewayError } from '../../domain/errors.js';
import { isFinalStatus, type Job } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { JobStore, ListJobsPage, ListJobsQuery } from '../store/job-store.js';
import type { ClaidClient } from '../upstream/claid-client.js';
import type { JobPubSub } from './job-events.js';
import type { JobRefresher } from './job-refresher.js';

export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
// PostgreSQL text cannot hold NUL, and no client means a key with control characters on purpose.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

export interface SubmitParams {
  owner: string;
  /** The request as the caller gave it; validated here. */
  request: unknown;
  idempotencyKey?: string | null | undefined;
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
  /** How long a submit waits for another in-flight submit holding the same idempotency key. */
  claimWaitMs: number;
  /**
   * Spend limits: admits one upstream submit for an owner or throws (RATE_LIMITED); the returned release is called
   * once the submit is stored or has failed. Replays of an idempotency key make no upstream call and are not asked.
   */
  admitSubmit?: (owner: string) => Promise<() => void>;
  now?: () => Date;
}

/** Submits, reads and lists AI Edit jobs for one owner at a time. */
export class JobService {
  private readonly pendingSubmits = new Map<string, Promise<Job>>();
  private readonly now: () => Date;

  constructor(private readonly deps: JobServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async submit({ owner, request: raw, idempotencyKey }: SubmitParams): Promise<Job> {
    const request = parseAiEditRequest(raw);
    const key = idempotencyKey ?? null;
    if (key !== null && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || CONTROL_CHARACTERS.test(key))) {
      throw new BadUserInputError(
        `input.idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable characters`,
        'input.idempotencyKey',
      );
    }
    const requestHash = hashAiEditRequest(request);
    if (key === null) return this.submitUpstream(owner, request, requestHash, null);

    const pendingKey = `${owner}\u0000${key}`;
    const pending = this.pendingSubmits.get(pendingKey);
    if (pending) return this.sameRequestOrRefuse(await pending, requestHash);

    // A claim held by a submit that then failed is released; claim again (a few times at most, never forever).
    for (let attempt = 0; ; attempt++) {
      const claim = await this.deps.store.claimIdempotencyKey(owner, key, requestHash, this.now());
      if (claim.claimed) break;
      if (claim.requestHash !== requestHash) throw idempotencyKeyReused();
      const job = claim.jobId
        ? await this.findOwned(owner, claim.jobId)
        : await this.awaitClaim(owner, key, requestHash);
      if (job) return job;
      if (attempt >= 2)
        throw new GatewayError('UPSTREAM_UNAVAILABLE', 'Could not settle this idempotency key; try again shortly.');
    }

    const submitting = this.submitUpstream(owner, request, requestHash, key).catch(async (error: unknown) => {
      // The submit failed, so the key has no job: free it, so that the caller can try again with the same key.
      await this.deps.store.releaseIdempotencyKey(owner, key);
      throw error;
    });
    this.pendingSubmits.set(pendingKey, submitting);
    try {
      return await submitting;
    } finally {
      this.pendingSubmits.delete(pendingKey);
    }
  }

  private async submitUpstream(
    owner: string,
    request: ReturnType<typeof parseAiEditRequest>,
    requestHash: string,
    idempotencyKey: string | null,
  ): Promise<Job> {
    const release = await this.deps.admitSubmit?.(owner);
    try {
      return await this.submitAdmitted(owner, request, requestHash, idempotencyKey);
    } finally {
      release?.();
    }
  }

  private async submitAdmitted(
    owner: string,
    request: ReturnType<typeof parseAiEditRequest>,
    requestHash: string,
    idempotencyKey: string | null,
  ): Promise<Job> {
    const upstream = await this.deps.claid.submit(request);
    const at = this.now();
    try {
      const job = await this.deps.store.insert({ owner, request, requestHash, idempotencyKey, upstream, at });
      this.deps.events.publish('job:updated', job.id, job);
      this.deps.poller?.track(job);
      return job;
    } catch (error) {
      // The upstream took (and will bill) the task, but we could not record it: say exactly what to recover.
      this.deps.logger.error(
        { err: error, upstreamId: upstream.upstreamId, owner },
        'upstream accepted a task that could not be stored',
      );
      throw error;
    }
  }

  private sameRequestOrRefuse(job: Job, requestHash: string): Job {
    if (job.requestHash !== requestHash) throw idempotencyKeyReused();
    return job;
  }

  /** Another submit (maybe on another instance) holds the key: wait until it attaches its job or gives up. */
  private async awaitClaim(owner: string, key: string, requestHash: string): Promise<Job | null> {
    const deadline = Date.now() + this.deps.claimWaitMs;
    while (Date.now() < deadline) {
      await sleep(25);
      const claim = await this.deps.store.claimIdempotencyKey(owner, key, requestHash, this.now());
      if (claim.claimed) {
        // The other submit failed and released the key: let the caller's loop claim it afresh.
        await this.deps.store.releaseIdempotencyKey(owner, key);
        return null;
      }
      if (claim.requestHash !== requestHash) throw idempotencyKeyReused();
      if (claim.jobId) return this.findOwned(owner, claim.jobId);
    }
    throw new GatewayError(
      'UPSTREAM_UNAVAILABLE',
      'An earlier submit with this idempotency key is still in progress; try again shortly.',
    );
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

function idempotencyKeyReused(): GatewayError {
  return new GatewayError('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used with a different request.', {
    field: 'input.idempotencyKey',
  });
}
