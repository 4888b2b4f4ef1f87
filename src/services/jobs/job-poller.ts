import { UpstreamError } from '../../domain/errors.js';
import { isFinalStatus, type Job } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import { MinHeap } from '../../lib/min-heap.js';
import { once } from '../../lib/once.js';
import type { PollCoordinator } from '../scale-out/poll-coordinator.js';
import type { JobStore } from '../store/job-store.js';
import type { PriorityScope } from '../upstream/budget-types.js';
import type { JobRefresher } from './job-refresher.js';

// One poll loop per unfinished job, shared by every subscriber and by query refreshes.
//
// Every read goes through JobRefresher.refresh, which shares one in-flight upstream read per job, so a query refresh
// and the poller never read one job twice at once. A job is due `pollIntervalMs` (watched) or
// `backgroundPollIntervalMs` (nobody watching) after its last upstream read, whoever made it: before reading, the
// poller reloads the job from the store and skips it when a query refresh read it meanwhile.
//
// Scheduling: one timer to the earliest due time; due jobs wait in a ready queue ordered watched-first, then by how
// long they have been due; at most `concurrency` reads run at once. The poller acquires no budget tokens itself
// (the Claid client charges one per HTTP attempt); it runs each read in budget.withPriority(), so the client's
// acquire() queues with the job's class and due time, retries included.
//
// Several instances (a distributed PollCoordinator): every instance tracks every unfinished job, but reads one only
// while it holds the job's lease; a job it does not hold is looked at again when the lease would run out, so that
// it takes over from a holder that died. A job counts as watched when anyone watches it on any instance. Jobs
// submitted elsewhere are found by rescanning the store's unfinished jobs every `rescanIntervalMs`.

export interface JobPollerOptions {
  store: JobStore;
  refresher: Pick<JobRefresher, 'refresh'>;
  /** The budget the Claid client acquires from; without one, reads are only ordered here. */
  budget?: PriorityScope;
  logger: Logger;
  pollIntervalMs: number;
  backgroundPollIntervalMs: number;
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
   * took); 0 or unset: only at start(). Bounded to RESCAN_LIMIT jobs, oldest first.
   */
  rescanIntervalMs?: number;
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

interface TrackedJob {
  id: string;
  job: Job;
  /** When the poller's last successful read finished (ms); guards against a store that does not move lastPolledAt. */
  lastReadAt: number;
  failures: number;
  backoffUntil: number;
  /** Another instance holds the lease: not before this (ms) is it worth asking again. */
  leaseRetryAt: number;
  /** Taken from the ready queue: its store look-up or read is under way. */
  busy: boolean;
  /** Bumped on every reschedule; heap entries with an older version are stale. */
  version: number;
}

interface Slot {
  tracked: TrackedJob;
  version: number;
  dueAt: number;
  watched: boolean;
  seq: number;
}

const DEFAULT_CONCURRENCY = 4;
/** Jobs due this soon are read in the same wake-up, so that near-simultaneous due times share one timer. */
const DUE_SLACK_MS = 5;
const MAX_RETRY_AFTER_MS = 10 * 60_000;
const READS_BY_JOB_LIMIT = 10_000;
/** At most this many unfinished jobs are picked up per rescan. */
const RESCAN_LIMIT = 10_000;

export class JobPoller {
  private readonly tracked = new Map<string, TrackedJob>();
  private readonly watchers = new Map<string, number>();
  private readonly loading = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly readsByJob = new Map<string, number>();
  private readonly timeline = new MinHeap<Slot>((a, b) => a.dueAt < b.dueAt);
  private readonly ready = new MinHeap<Slot>((a, b) =>
    a.watched !== b.watched ? a.watched : a.dueAt !== b.dueAt ? a.dueAt < b.dueAt : a.seq < b.seq,
  );
  private readonly concurrency: number;
  private readonly backgroundLimit: number;
  private backgroundInFlight = 0;
  private readonly maxBackoffMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private running = false;
  private abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private seq = 0;
  private reads = 0;
  private failures = 0;
  private leasedElsewhere = 0;
  private rescanTimer: NodeJS.Timeout | undefined;
  private rescanning = false;

  constructor(private readonly options: JobPollerOptions) {
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.backgroundLimit = Math.max(1, this.concurrency - 1);
    this.maxBackoffMs =
      options.maxBackoffMs ?? Math.max(options.pollIntervalMs, Math.min(30_000, options.backgroundPollIntervalMs));
    this.logger = options.logger.child({ component: 'job-poller' });
    const now = options.now;
    this.now = now ? () => now().getTime() : Date.now;
    options.coordinator?.onWatchChange((jobId) => {
      const tracked = this.tracked.get(jobId);
      if (tracked) this.schedule(tracked);
    });
  }

  /** Tracks every unfinished job in the store (polling resumes after a restart) and starts the scheduler. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    const jobs = await this.options.store.listUnfinished();
    for (const job of jobs) this.track(job);
    this.logger.info({ resumed: jobs.length }, 'job poller started');
    this.pump();
    const every = this.options.rescanIntervalMs ?? 0;
    if (every > 0) {
      this.rescanTimer = setInterval(() => void this.rescan(), every);
      this.rescanTimer.unref();
    }
  }

  /** Tracks unfinished jobs the store has and this poller does not (submitted on another instance). */
  async rescan(): Promise<void> {
    if (!this.running || this.rescanning) return;
    this.rescanning = true;
    try {
      const jobs = await this.options.store.listUnfinished(RESCAN_LIMIT);
      let found = 0;
      for (const job of jobs) {
        if (this.tracked.has(job.id)) continue;
        found++;
        this.track(job);
      }
      if (found > 0) this.logger.debug({ found }, 'rescan found unfinished jobs');
    } catch (err) {
      this.logger.warn({ err }, 'could not rescan unfinished jobs');
    } finally {
      this.rescanning = false;
    }
  }

  /** Stops scheduling, gives up reads still waiting for the budget, and waits for the reads under way. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.clearTimer();
    clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Polls an unfinished job (e.g. one just submitted); a final job is ignored. */
  track(job: Job): void {
    if (isFinalStatus(job.status)) return;
    const existing = this.tracked.get(job.id);
    if (existing) {
      if (job.lastPolledAt.getTime() >= existing.job.lastPolledAt.getTime()) existing.job = job;
      this.schedule(existing);
      return;
    }
    const tracked: TrackedJob = {
      id: job.id,
      job,
      lastReadAt: 0,
      failures: 0,
      backoffUntil: 0,
      leaseRetryAt: 0,
      busy: false,
      version: 0,
    };
    this.tracked.set(job.id, tracked);
    this.schedule(tracked);
  }

  /**
   * Registers a subscriber's interest: the job is read every pollIntervalMs while anyone watches it. An unfinished
   * job the poller does not track yet is loaded and tracked. Returns an idempotent release function.
   */
  watch(jobId: string): () => void {
    const count = (this.watchers.get(jobId) ?? 0) + 1;
    this.watchers.set(jobId, count);
    if (count === 1) {
      this.options.coordinator?.setWatched(jobId, true);
      this.watchersChanged(jobId);
    }
    return once(() => {
      const left = (this.watchers.get(jobId) ?? 1) - 1;
      if (left > 0) {
        this.watchers.set(jobId, left);
        return;
      }
      this.watchers.delete(jobId);
      this.options.coordinator?.setWatched(jobId, false);
      this.watchersChanged(jobId);
    });
  }

  stats(): JobPollerStats {
    let watched = 0;
    let watchers = 0;
    for (const [id, count] of this.watchers) {
      watchers += count;
      if (this.tracked.has(id)) watched++;
    }
    return {
      tracked: this.tracked.size,
      watched,
      watchers,
      inFlight: this.inFlight.size,
      reads: this.reads,
      failures: this.failures,
      readsByJob: new Map(this.readsByJob),
      leasedElsewhere: this.leasedElsewhere,
    };
  }

  private isWatched(jobId: string): boolean {
    return this.watchers.has(jobId) || (this.options.coordinator?.isWatchedElsewhere(jobId) ?? false);
  }

  private watchersChanged(jobId: string): void {
    const tracked = this.tracked.get(jobId);
    if (tracked) {
      // The cadence changed: recompute the due time now rather than when the old one comes up.
      this.schedule(tracked);
      return;
    }
    if (!this.isWatched(jobId) || this.loading.has(jobId)) return;
    this.loading.add(jobId);
    this.options.store
      .findByIds([jobId])
      .then(([job]) => {
        if (job && this.isWatched(jobId)) this.track(job);
      })
      .catch((err: unknown) => this.logger.warn({ err, jobId }, 'could not load a watched job'))
      .finally(() => this.loading.delete(jobId));
  }

  private dueAt(tracked: TrackedJob): number {
    const interval = this.isWatched(tracked.id) ? this.options.pollIntervalMs : this.options.backgroundPollIntervalMs;
    const lastRead = Math.max(tracked.job.lastPolledAt.getTime(), tracked.lastReadAt);
    return Math.max(lastRead + interval, tracked.backoffUntil, tracked.leaseRetryAt);
  }

  private schedule(tracked: TrackedJob): void {
    // A busy job is rescheduled when its read ends; an untracked one never again.
    if (tracked.busy || this.tracked.get(tracked.id) !== tracked) return;
    tracked.version++;
    const dueAt = this.dueAt(tracked);
    this.timeline.push({ tracked, version: tracked.version, dueAt, watched: false, seq: 0 });
    this.armTimer(dueAt);
  }

  private untrack(tracked: TrackedJob): void {
    if (this.tracked.get(tracked.id) !== tracked) return;
    this.tracked.delete(tracked.id);
    tracked.version++;
    void this.options.coordinator?.release(tracked.id);
  }

  private armTimer(at: number): void {
    if (!this.running || at >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, at - this.now()),
    );
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** Moves due jobs to the ready queue, starts reads while slots are free, and sets the timer for the next due job. */
  private pump(): void {
    if (!this.running) return;
    const now = this.now();
    for (let slot = this.timeline.peek(); slot; slot = this.timeline.peek()) {
      if (slot.version !== slot.tracked.version) {
        this.timeline.pop();
        continue;
      }
      if (slot.dueAt > now + DUE_SLACK_MS) break;
      this.timeline.pop();
      this.ready.push({ ...slot, watched: this.isWatched(slot.tracked.id), seq: this.seq++ });
    }
    while (this.inFlight.size < this.concurrency) {
      const slot = this.ready.peek();
      if (!slot) break;
      if (slot.version !== slot.tracked.version || slot.tracked.busy) {
        this.ready.pop();
        continue;
      }
      // Watched jobs come out first; a background one may not take the last slot, so that a watched job falling
      // due never waits behind reads that are themselves queued for budget tokens.
      if (!slot.watched && this.backgroundInFlight >= this.backgroundLimit) break;
      this.ready.pop();
      this.dispatch(slot);
    }
    const next = this.timeline.peek();
    if (next) this.armTimer(next.dueAt);
  }

  private dispatch(slot: Slot): void {
    const { tracked } = slot;
    tracked.busy = true;
    if (!slot.watched) this.backgroundInFlight++;
    const run: Promise<void> = this.poll(slot).finally(() => {
      tracked.busy = false;
      if (!slot.watched) this.backgroundInFlight--;
      this.inFlight.delete(run);
      this.schedule(tracked);
      this.pump();
    });
    this.inFlight.add(run);
  }

  private async poll(slot: Slot): Promise<void> {
    const { tracked } = slot;
    const { store, refresher, budget } = this.options;
    try {
      // Re-check just before reading: a query refresh may have read the job, or finished it, while it waited here.
      const [fresh] = await store.findByIds([tracked.id]);
      if (!fresh || isFinalStatus(fresh.status)) {
        this.untrack(tracked);
        return;
      }
      tracked.job = fresh;
      tracked.leaseRetryAt = 0;
      if (!this.running || this.dueAt(tracked) > this.now() + DUE_SLACK_MS) return;
      if (this.options.coordinator) {
        const claim = await this.options.coordinator.claim(tracked.id);
        if (!claim.held) {
          // Someone else reads it (and publishes what changes); look again when their lease would run out.
          this.leasedElsewhere++;
          tracked.leaseRetryAt = this.now() + claim.retryInMs;
          return;
        }
      }

      const watched = this.isWatched(tracked.id);
      this.countRead(tracked.id);
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
      const delayMs = this.backoffMs(tracked.failures, err);
      tracked.backoffUntil = this.now() + delayMs;
      this.logger.warn(
        {
          err,
          jobId: tracked.id,
          upstreamId: tracked.job.upstreamId,
          failures: tracked.failures,
          retryInMs: Math.round(delayMs),
        },
        'job poll failed; backing off',
      );
    }
  }

  /** Exponential with jitter from one poll interval up to maxBackoffMs; at least what a 429 asked for. */
  private backoffMs(failures: number, err: unknown): number {
    const exp = Math.min(this.maxBackoffMs, this.options.pollIntervalMs * 2 ** (failures - 1));
    const jittered = exp * (0.5 + Math.random() / 2);
    const retryAfterSeconds = err instanceof UpstreamError ? err.retryAfterSeconds : undefined;
    const asked = retryAfterSeconds === undefined ? 0 : Math.min(retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
    return Math.max(jittered, asked);
  }

  private countRead(jobId: string): void {
    this.reads++;
    const count = (this.readsByJob.get(jobId) ?? 0) + 1;
    this.readsByJob.delete(jobId);
    this.readsByJob.set(jobId, count);
    if (this.readsByJob.size > READS_BY_JOB_LIMIT) {
      const oldest = this.readsByJob.keys().next().value;
      if (oldest !== undefined) this.readsByJob.delete(oldest);
    }
  }
}
