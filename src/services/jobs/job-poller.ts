import { isStoreUnavailable } from '../../domain/errors.js';
import { isFinalStatus, isSentJob, type Job } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import { RecentCounts } from '../../lib/recent-counts.js';
import type { PollCoordinator } from '../scale-out/poll-coordinator.js';
import type { JobStore } from '../store/job-store.js';
import type { PriorityScope } from '../upstream/budget-types.js';
import type { JobRefresher } from './job-refresher.js';
import { JobWatchers } from './job-watchers.js';
import {
  type Cadence,
  DUE_SLACK_MS,
  dueAt,
  PollSchedule,
  pollBackoffMs,
  type Slot,
  type TrackedJob,
  trackedJob,
} from './poll-schedule.js';
import { UnfinishedRescan } from './unfinished-rescan.js';

// One poll loop per unfinished job, shared by every subscriber and by query refreshes.
//
// Every read goes through JobRefresher.refresh, which shares one in-flight upstream read per job, so a query refresh
// and the poller never read one job twice at once. A job is due `pollIntervalMs` (watched) or
// `backgroundPollIntervalMs` (nobody watching) after its last upstream read, whoever made it; with a readPlanner, a
// watched job is due where the planner puts it, never sooner; a job whose state a webhook pushed (isPushed) is read at the background
// cadence, as reconciliation (with a planner: not before jobs like it would have been pushed final): before reading, the poller reloads the job from the
// store and skips it when a query refresh read it meanwhile.
//
// Scheduling (poll-schedule.ts): one timer to the earliest due time; due jobs wait in a ready queue ordered
// watched-first, then by how long they have been due; at most `concurrency` reads run at once. The poller acquires
// no budget tokens itself (the Claid client charges one per HTTP attempt); it runs each read in
// budget.withPriority(), so the client's acquire() queues with the job's class and due time, retries included.
//
// Several instances (a distributed PollCoordinator): every instance tracks every unfinished job, but reads one only
// while it holds the job's lease; a job it does not hold is looked at again when the lease would run out, so that
// it takes over from a holder that died. A job counts as watched when anyone watches it on any instance. Jobs
// submitted elsewhere are found by rescanning the store's unfinished jobs every `rescanIntervalMs`.

/** The cadence (poll-schedule.ts): pollIntervalMs, backgroundPollIntervalMs and, when learned, a readPlanner. */
export interface JobPollerOptions extends Cadence {
  store: JobStore;
  refresher: Pick<JobRefresher, 'refresh'>;
  /** The budget the Claid client acquires from; without one, reads are only ordered here. */
  budget?: PriorityScope;
  logger: Logger;
  /**
   * Reads in flight at once (default 4): the rest wait here, in priority order, not in the budget's queue. One slot
   * is kept for watched jobs.
   */
  concurrency?: number;
  /** Longest back-off after upstream failures (default: backgroundPollIntervalMs, at most 30 s). */
  maxBackoffMs?: number;
  now?: () => Date;
  /** Who may read which job (several instances); default: this poller reads every job it tracks. */
  coordinator?: PollCoordinator;
  /**
   * How often to look for unfinished jobs in the store that this poller does not track yet (jobs other instances
   * took); 0 or unset: only at start(). Bounded to 10 000 jobs, oldest first (unfinished-rescan.ts).
   */
  rescanIntervalMs?: number;
  isPushed?: (jobId: string) => boolean;
}

export interface JobPollerStats {
  /** Unfinished jobs being polled. */
  tracked: number;
  /** Tracked jobs with at least one watcher. */
  watched: number;
  /** Active watch() registrations. */
  watchers: number;
  /** Reads (with their store look-up) under way. */
  inFlight: number;
  /** Upstream reads the poller started, all jobs together. */
  reads: number;
  /** Reads that failed. */
  failures: number;
  /** Upstream reads the poller started, per job id (the most recent jobs, up to 10 000). */
  readsByJob: Map<string, number>;
  /** Due jobs not read because another instance holds their lease. */
  leasedElsewhere: number;
}

const DEFAULT_CONCURRENCY = 4;
const READS_BY_JOB_LIMIT = 10_000;

export class JobPoller {
  private readonly tracked = new Map<string, TrackedJob>();
  private readonly watchers: JobWatchers;
  private readonly loading = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly readsByJob = new RecentCounts<string>(READS_BY_JOB_LIMIT);
  private readonly rescan: UnfinishedRescan;
  private readonly schedule: PollSchedule;
  private readonly concurrency: number;
  private readonly backgroundLimit: number;
  private backgroundInFlight = 0;
  private readonly maxBackoffMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private running = false;
  private abort = new AbortController();
  private reads = 0;
  private failures = 0;
  private leasedElsewhere = 0;

  constructor(private readonly options: JobPollerOptions) {
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.backgroundLimit = Math.max(1, this.concurrency - 1);
    this.maxBackoffMs =
      options.maxBackoffMs ?? Math.max(options.pollIntervalMs, Math.min(30_000, options.backgroundPollIntervalMs));
    this.logger = options.logger.child({ component: 'job-poller' });
    const now = options.now;
    this.now = now ? () => now().getTime() : Date.now;
    this.schedule = new PollSchedule(this.now, () => this.pump());
    this.watchers = new JobWatchers((jobId) => this.watchersChanged(jobId), options.coordinator);
    this.rescan = new UnfinishedRescan(options.store, this.logger, this.tracked, (job) => this.track(job));
    options.coordinator?.onWatchChange((jobId) => {
      const tracked = this.tracked.get(jobId);
      if (tracked) this.reschedule(tracked);
    });
  }

  /** Tracks every unfinished job in the store (polling resumes after a restart) and starts the scheduler. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.schedule.start();
    this.abort = new AbortController();
    const jobs = await this.options.store.listUnfinished();
    for (const job of jobs) this.track(job);
    this.logger.info({ resumed: jobs.length }, 'job poller started');
    this.pump();
    this.rescan.start(this.options.rescanIntervalMs ?? 0);
  }

  /** Stops scheduling, gives up reads still waiting for the budget, and waits for the reads under way. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.schedule.stop();
    this.rescan.stop();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Polls an unfinished job (e.g. one just submitted); a final job, or one Claid does not have yet, is ignored. */
  track(job: Job): void {
    if (isFinalStatus(job.status) || !isSentJob(job)) return;
    const existing = this.tracked.get(job.id);
    if (existing) {
      if (job.lastPolledAt.getTime() >= existing.job.lastPolledAt.getTime()) existing.job = job;
      this.reschedule(existing);
      return;
    }
    const tracked = trackedJob(job);
    this.tracked.set(job.id, tracked);
    this.reschedule(tracked);
  }

  /**
   * Registers a subscriber's interest: the job is read every pollIntervalMs while anyone watches it. An unfinished
   * job the poller does not track yet is loaded and tracked. Returns an idempotent release function.
   */
  watch(jobId: string): () => void {
    return this.watchers.watch(jobId);
  }

  /**
   * A job's final state was published (it is stored so): stop tracking it now. With several instances, one that does
   * not read the job would otherwise claim its lease once the reader lets it go, look the job up and only then let
   * it go itself: three round trips per job and instance as a burst of jobs finishes, where nothing is left to read.
   */
  sawFinal(job: Job): void {
    if (!isFinalStatus(job.status)) return;
    const tracked = this.tracked.get(job.id);
    if (tracked) this.untrack(tracked);
  }

  stats(): JobPollerStats {
    return {
      tracked: this.tracked.size,
      ...this.watchers.stats(this.tracked),
      inFlight: this.inFlight.size,
      reads: this.reads,
      failures: this.failures,
      readsByJob: this.readsByJob.snapshot(),
      leasedElsewhere: this.leasedElsewhere,
    };
  }

  private watchersChanged(jobId: string): void {
    const tracked = this.tracked.get(jobId);
    if (tracked) {
      // The cadence changed: recompute the due time now rather than when the old one comes up.
      this.reschedule(tracked);
      return;
    }
    if (!this.watchers.isWatched(jobId) || this.loading.has(jobId)) return;
    this.loading.add(jobId);
    this.options.store
      .findByIds([jobId])
      .then(([job]) => {
        if (job && this.watchers.isWatched(jobId)) this.track(job);
      })
      .catch((err: unknown) => this.logger.warn({ err, jobId }, 'could not load a watched job'))
      .finally(() => this.loading.delete(jobId));
  }

  private dueAt(tracked: TrackedJob): number {
    const pushed = this.options.isPushed?.(tracked.id) ?? false;
    return dueAt(tracked, this.watchers.isWatched(tracked.id) && !pushed, this.options, pushed);
  }

  private reschedule(tracked: TrackedJob): void {
    // A busy job is rescheduled when its read ends; an untracked one never again.
    if (tracked.busy || this.tracked.get(tracked.id) !== tracked) return;
    this.schedule.add(tracked, this.dueAt(tracked));
  }

  private untrack(tracked: TrackedJob): void {
    if (this.tracked.get(tracked.id) !== tracked) return;
    this.tracked.delete(tracked.id);
    this.schedule.forget(tracked);
    void this.options.coordinator?.release(tracked.id);
  }

  /** Moves due jobs to the ready queue, starts reads while slots are free, and sets the timer for the next due job. */
  private pump(): void {
    if (!this.running) return;
    this.schedule.promoteDue((jobId) => this.watchers.isWatched(jobId));
    while (this.inFlight.size < this.concurrency) {
      // Watched jobs come out first; a background one may not take the last slot, so that a watched job falling
      // due never waits behind reads that are themselves queued for budget tokens.
      const slot = this.schedule.takeReady(this.backgroundInFlight < this.backgroundLimit);
      if (!slot) break;
      this.dispatch(slot);
    }
    this.schedule.armNext();
  }

  private dispatch(slot: Slot): void {
    const { tracked } = slot;
    tracked.busy = true;
    if (!slot.watched) this.backgroundInFlight++;
    const run: Promise<void> = this.poll(slot).finally(() => {
      tracked.busy = false;
      if (!slot.watched) this.backgroundInFlight--;
      this.inFlight.delete(run);
      this.reschedule(tracked);
      this.pump();
    });
    this.inFlight.add(run);
  }

  private async poll(slot: Slot): Promise<void> {
    const { tracked } = slot;
    const { store, refresher, budget } = this.options;
    try {
      // Claim, then look: a holder that finishes the job releases its lease after storing it, so a look taken before
      // the claim may find the job unfinished and read it a second time, right after the holder did.
      if (this.options.coordinator) {
        const claim = await this.options.coordinator.claim(tracked.id);
        if (!claim.held) {
          // Someone else reads it (and publishes what changes); look again when their lease would run out.
          this.leasedElsewhere++;
          tracked.leaseRetryAt = this.now() + claim.retryInMs;
          return;
        }
      }
      // Re-check just before reading: a query refresh may have read the job, or finished it, while it waited here.
      const [fresh] = await store.findByIds([tracked.id]);
      if (!fresh || isFinalStatus(fresh.status) || !isSentJob(fresh)) {
        this.untrack(tracked);
        // Also when sawFinal untracked it while this claim was under way: the claim may have taken the lease.
        void this.options.coordinator?.release(tracked.id);
        return;
      }
      tracked.job = fresh;
      tracked.leaseRetryAt = 0;
      if (!this.running || this.dueAt(tracked) > this.now() + DUE_SLACK_MS) return;

      const watched = this.watchers.isWatched(tracked.id);
      this.reads++;
      this.readsByJob.add(tracked.id);
      const read = () => refresher.refresh(fresh, { throwOnError: true, leased: true });
      const job = budget
        ? await budget.withPriority(
            { priority: watched ? 'watched' : 'background', since: slot.dueAt, signal: this.abort.signal },
            read,
          )
        : await read();
      tracked.job = job;
      tracked.lastReadAt = this.now();
      tracked.failures = 0;
      tracked.backoffUntil = 0;
      if (isFinalStatus(job.status)) this.untrack(tracked);
    } catch (err) {
      if (!this.running) return;
      this.failures++;
      tracked.failures++;
      const delayMs = pollBackoffMs(tracked.failures, err, this.options.pollIntervalMs, this.maxBackoffMs);
      tracked.backoffUntil = this.now() + delayMs;
      if (isStoreUnavailable(err)) return; // the store logs its outage itself, once, not per job and read
      const { id: jobId, job, failures } = tracked;
      const details = { err, jobId, upstreamId: job.upstreamId, failures, retryInMs: Math.round(delayMs) };
      this.logger.warn(details, 'job poll failed; backing off');
    }
  }
}
