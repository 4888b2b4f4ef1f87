import { isFinalStatus, isSentJob, type Job, type SentJob, type UpstreamTaskState } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import { inSpan, type Tracer } from '../../lib/spans.js';
import type { PollCoordinator } from '../scale-out/poll-coordinator.js';
import type { JobStore } from '../store/job-store.js';
import type { ClaidClient } from '../upstream/claid-client.js';
import { type JobPubSub, publishJobUpdated } from './job-events.js';
import {
  DEFAULT_UNKNOWN_TASK_GRACE_MS,
  endedWithError,
  foreignTaskMessage,
  foreignTaskReason,
  isUnknownTaskError,
  UnknownTaskClock,
  unknownTaskMessage,
} from './task-match.js';

/**
 * Reads one job's task upstream, records it and publishes a change. Concurrent callers for the same job share one
 * in-flight upstream read, whether they are queries, subscriptions or the poller. With several instances a job is
 * read only by the holder of its lease: elsewhere a refresh serves the stored state, and the holder's next poll
 * publishes whatever changed.
 */
export class JobRefresher {
  private readonly inFlight = new Map<string, Promise<Job>>();
  private readonly unknownTasks: UnknownTaskClock;

  constructor(
    private readonly deps: {
      store: JobStore;
      claid: ClaidClient;
      events: JobPubSub;
      logger: Logger;
      now?: () => Date;
      /** Who may read a job (several instances); without one, this process may read every job. */
      coordinator?: Pick<PollCoordinator, 'claim' | 'release'>;
      /** How long the upstream may answer 404 for a job's task before the job ends ERROR; default 5 min. */
      unknownTaskGraceMs?: number;
      /** A span per upstream read when set: a child of the query that asked, or a root for the poller's. */
      tracer?: Tracer;
    },
  ) {
    this.unknownTasks = new UnknownTaskClock(deps.unknownTaskGraceMs ?? DEFAULT_UNKNOWN_TASK_GRACE_MS);
  }

  /**
   * Refreshes `job` from upstream. Never rejects for an upstream failure: the stored state is returned and the
   * failure logged, because a stale answer serves a reader better than an error while the poller keeps trying.
   * Set `throwOnError` to see the failure (the poller uses it for back-off). Set `leased` when the caller has just
   * claimed the job's lease itself (the poller), so it is not claimed twice.
   */
  refresh(job: Job, options: { throwOnError?: boolean; leased?: boolean } = {}): Promise<Job> {
    // A job Claid does not have yet (QUEUED) has nothing to read.
    if (isFinalStatus(job.status) || !isSentJob(job)) return Promise.resolve(job);
    let pending = this.inFlight.get(job.id);
    if (!pending) {
      // The poller's reads (leased) are background work: each a trace of its own.
      pending = (options.leased ? this.read(job, true) : this.readIfLeased(job)).finally(() =>
        this.inFlight.delete(job.id),
      );
      this.inFlight.set(job.id, pending);
    }
    if (options.throwOnError) return pending;
    return pending.catch((error: unknown) => {
      this.deps.logger.warn(
        { jobId: job.id, upstreamId: job.upstreamId, err: error },
        'upstream read failed; serving stored state',
      );
      return job;
    });
  }

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  private async readIfLeased(job: SentJob): Promise<Job> {
    const coordinator = this.deps.coordinator;
    if (coordinator && !(await coordinator.claim(job.id)).held) return job;
    return this.read(job);
  }

  /**
   * Records a state the upstream pushed (a webhook) exactly as a read's, so that subscribers on every instance hear
   * it. The caller has checked it is this job's task (task-match.ts). Null for a job the store does not know.
   */
  async applyPushed(job: SentJob, state: UpstreamTaskState): Promise<Job | null> {
    return (await this.record(job, state, true)) ?? null;
  }

  private read(job: SentJob, background = false): Promise<Job> {
    const attributes = { 'gateway.job_id': job.id, 'gateway.job_status': job.status };
    return inSpan(this.deps.tracer, 'job.refresh', { attributes, root: background }, async (span) => {
      const read = (await this.record(job, await this.readTask(job))) ?? job;
      span?.setAttribute('gateway.job_status_read', read.status);
      return read;
    });
  }

  /** `exact`: the state holds from this moment (a push), not from some time since the previous read. */
  private async record(job: Job, state: UpstreamTaskState, exact = false): Promise<Job | undefined> {
    const at = this.now();
    // The job as it was when its task was read is the basis of the common no-change record (JobStore).
    const applied = await this.deps.store.applyUpstreamState(job.id, state, at, exact, exact ? undefined : job);
    if (!applied) return undefined;
    if (applied.changed) publishJobUpdated(this.deps.events, applied.job);
    // A final job needs no reader: free its lease (also when a query, not this instance's poller, took it).
    if (isFinalStatus(applied.job.status)) await this.deps.coordinator?.release(job.id);
    return applied.job;
  }

  /** The task's state as this job should take it: a foreign task, or one unknown for too long, ends the job. */
  private async readTask(job: SentJob): Promise<UpstreamTaskState> {
    let state: UpstreamTaskState;
    try {
      state = await this.deps.claid.getTask(job.upstreamId);
    } catch (error) {
      if (!isUnknownTaskError(error) || !this.unknownTasks.unknownFor(job.id, this.now().getTime())) throw error;
      this.unknownTasks.forget(job.id);
      this.deps.logger.warn({ jobId: job.id, upstreamId: job.upstreamId, err: error }, 'upstream lost the task');
      return endedWithError(job, unknownTaskMessage(this.unknownTasks.graceMs), this.now());
    }
    this.unknownTasks.forget(job.id);
    const foreign = foreignTaskReason(job, state);
    if (!foreign) return state;
    this.deps.logger.warn(
      { jobId: job.id, upstreamId: job.upstreamId, reason: foreign },
      'upstream answered a foreign task',
    );
    return endedWithError(job, foreignTaskMessage(foreign), this.now());
  }
}
