import {
  type AiEditRequest,
  isFinalStatus,
  JOB_STATUSES,
  type Job,
  type JobStatus,
  type UpstreamTaskState,
} from '../../domain/job.js';
import type { CallerStore, JobWebhook } from './caller-store.js';
import type { UploadStore } from './upload-store.js';

// The job store's contract. SQLite implements it today; PostgreSQL implements the same interface so that
// several instances can share one database. Every method is async so both fit.

export interface NewJob {
  owner: string;
  request: AiEditRequest;
  requestHash: string;
  idempotencyKey: string | null;
  /** The upstream's answer to the submit. */
  upstream: UpstreamTaskState;
  /** When the upstream accepted the submit; becomes createdAt, updatedAt, lastPolledAt and the first history entry. */
  at: Date;
}

/** A job recorded before its upstream call (QUEUED, no upstream id): nothing is lost if the process dies next. */
export interface NewQueuedJob {
  owner: string;
  request: AiEditRequest;
  requestHash: string;
  idempotencyKey: string | null;
  /** When it was recorded: createdAt, updatedAt, lastPolledAt and the first history entry (QUEUED). */
  at: Date;
  /**
   * When the gateway began sending it to Claid (normally `at`: it is sent at once); null leaves it waiting, never
   * sent. A QUEUED job with a send time and no upstream id has an unknown outcome if its sender died.
   */
  sendStartedAt: Date | null;
  /** The caller's webhook for this job, stored with it: its events are written with the status changes. */
  webhook?: JobWebhook | null | undefined;
}

export interface UnsettledSubmitFilter {
  sentBefore: Date;
  /** Jobs a live process still settles itself (its submit is under way, or its answer waits to land). */
  except?: readonly string[];
  /** Only this job. */
  id?: string;
}

/** A gateway-made error that ends a job (e.g. UPSTREAM_OUTCOME_UNKNOWN). */
export interface GatewayJobError {
  code: string;
  message: string;
}

export type IdempotencyClaim =
  /** The caller now owns the key and must either attach a job to it or release it. */
  | { claimed: true }
  /**
   * Someone claimed the key before; `jobId` is null while their submit has not recorded its job yet (or died
   * before it could: see takeOverIdempotencyKey).
   */
  | { claimed: false; requestHash: string; jobId: string | null };

export interface ApplyResult {
  job: Job;
  /** True when status, errors or result changed (history and updatedAt moved with it). */
  changed: boolean;
}

export interface ListJobsQuery {
  owner: string;
  statuses?: readonly JobStatus[] | undefined;
  /** Keyset pagination over (createdAt desc, id desc): newest first. */
  after?: JobCursor | undefined;
  before?: JobCursor | undefined;
  /** Take the first `limit` after `after`, or (with fromEnd) the last `limit` before `before`. */
  limit: number;
  fromEnd?: boolean;
}

export interface JobCursor {
  createdAt: Date;
  id: string;
}

export interface ListJobsPage {
  /** Newest first, whichever end was asked for. */
  jobs: Job[];
  /** Whether more jobs exist beyond the page in the direction asked for. */
  hasMore: boolean;
}

export interface JobStore {
  /** Webhook secrets, the webhook outbox and credits spent, in the same database (caller-store.ts). */
  readonly callers: CallerStore;

  /** Creates the schema when missing and applies migrations. Idempotent. */
  migrate(): Promise<void>;

  /** Stores a submitted job; attaches it to its idempotency key when it has one. */
  insert(job: NewJob): Promise<Job>;

  /** Records a job before its upstream call, as QUEUED with no upstream id; attaches its idempotency key like insert. */
  insertQueued(job: NewQueuedJob): Promise<Job>;

  /** Removes a QUEUED job Claid certainly never took (it refused the submit); its key claim is kept. */
  discardQueued(id: string): Promise<void>;

  /**
   * Ends QUEUED jobs that have no upstream id and began sending before `filter.sentBefore` (their sender died or
   * lost the answer, so whether Claid took them cannot be known) as ERROR with `error`. Returns the jobs it ended.
   */
  endUnsettledSubmits(filter: UnsettledSubmitFilter, error: GatewayJobError, at: Date): Promise<Job[]>;

  /**
   * Moves the send time of these QUEUED, unsent jobs to `at`: the heartbeat of a process whose submits are still
   * under way (waiting for the budget, or for Claid), so that no other process takes them for abandoned.
   */
  renewSendStarted(ids: readonly string[], at: Date): Promise<void>;

  /**
   * The submit queue's claim: the oldest waiting job (QUEUED, never sent) takes `at` as its send time, atomically,
   * so that of several instances claiming at once each job goes to exactly one. Null when none waits.
   */
  claimNextQueued(at: Date): Promise<Job | null>;

  /**
   * Puts a claimed job back in the queue (its send time cleared): Claid certainly did not take it (a 429, or it was
   * never sent). It keeps its place, which is its createdAt. Only a QUEUED job without an upstream id moves.
   */
  returnToQueue(id: string): Promise<void>;

  /**
   * Each job's 1-based place among the waiting jobs in send order (createdAt, id); null for a job that does not
   * wait (sent, being sent, final or unknown). One entry per id, in the same order.
   */
  queuePositions(ids: readonly string[]): Promise<(number | null)[]>;

  /** How many jobs wait in the submit queue (all owners). */
  countWaiting(): Promise<number>;

  /** One entry per id, in the same order; null where unknown. Shaped for DataLoader. */
  findByIds(ids: readonly string[]): Promise<(Job | null)[]>;

  /**
   * The jobs whose upstream task has this id, newest first, at most UPSTREAM_ID_MATCH_LIMIT: what a webhook names.
   * Usually one; an upstream that was reset may have handed the same id to another job's task.
   */
  findByUpstreamId(upstreamId: number): Promise<Job[]>;

  /**
   * Records an upstream read, or a submit's answer: a job without an upstream id takes `state.upstreamId` (also a
   * job already ended meanwhile, so that the operator can find the task). Moves status only forward (domain.isForwardTransition); a final job never changes.
   * Always sets lastPolledAt to `at`; sets updatedAt and appends to history only on a change, with when the previous
   * status was last seen (StatusChange.since) unless `exact`: a push or a submit's answer tells the moment itself.
   * Returns null for an unknown id.
   *
   * `basis`: the job as the caller saw it when it asked the upstream (a poll's fresh look, or the job a submit has
   * just recorded). A store may plan against it and write in one statement while the stored row still holds basis's
   * state (both stores, for polls and for submits' answers). The outcome is the same as without it; a basis the
   * row has moved on from is not trusted.
   */
  applyUpstreamState(
    id: string,
    state: UpstreamTaskState,
    at: Date,
    exact?: boolean,
    basis?: Job,
  ): Promise<ApplyResult | null>;

  /** Jobs not yet final, oldest first: what the poller resumes after a restart. */
  listUnfinished(limit?: number): Promise<Job[]>;

  listJobs(query: ListJobsQuery): Promise<ListJobsPage>;

  /** How many of an owner's jobs are not yet final, counting at most `atMost` (the caller limit's check, per submit). */
  countUnfinished(owner: string, atMost: number): Promise<number>;

  /** DONE jobs, most recently finished first (ties by id desc), up to `limit`: what job durations are learned from. */
  listRecentlyDone(limit: number): Promise<Job[]>;

  /** Atomically claims (owner, key) for a request hash; safe when two submits race. */
  claimIdempotencyKey(owner: string, key: string, requestHash: string, at: Date): Promise<IdempotencyClaim>;

  /** Gives up a claim whose submit failed, so the key can be used again. Only a claim with no job is released. */
  releaseIdempotencyKey(owner: string, key: string): Promise<void>;

  /**
   * Takes over a claim that has no job and was made before `staleBefore` (its submit died before recording a job):
   * the key is then claimed for `requestHash` at `at`. False when the claim has a job, is younger, or is gone.
   */
  takeOverIdempotencyKey(
    owner: string,
    key: string,
    requestHash: string,
    staleBefore: Date,
    at: Date,
  ): Promise<boolean>;

  /** Forgets idempotency keys claimed before `before` (keys are kept at least 24 h). Returns how many. */
  expireIdempotencyKeys(before: Date): Promise<number>;

  /** Uploaded images, in the same database (migration 5). */
  readonly uploads: UploadStore;

  /** Throws when the store cannot answer (for /ready). */
  ping(): Promise<void>;

  close(): Promise<void>;
}

/** At most this many jobs answer one findByUpstreamId. */
export const UPSTREAM_ID_MATCH_LIMIT = 20;

const UNFINISHED_STATUSES = JOB_STATUSES.filter((status) => !isFinalStatus(status));

/** An owner's unfinished jobs, newest first, at most `limit`, through the store's owner-scoped listing. */
export function listUnfinishedIn(store: Pick<JobStore, 'listJobs'>): (owner: string, limit: number) => Promise<Job[]> {
  return async (owner, limit) => (await store.listJobs({ owner, statuses: UNFINISHED_STATUSES, limit })).jobs;
}

/** Counts an owner's unfinished jobs in the store, at most `atLeast` of them (no row is read or decoded). */
export function countUnfinishedIn(
  store: Pick<JobStore, 'countUnfinished'>,
): (owner: string, atLeast: number) => Promise<number> {
  return (owner, atLeast) => store.countUnfinished(owner, atLeast);
}
