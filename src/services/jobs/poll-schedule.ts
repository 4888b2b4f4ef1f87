import { AsyncResource } from 'node:async_hooks';
import { UpstreamError } from '../../domain/errors.js';
import type { Job } from '../../domain/job.js';
import { MinHeap } from '../../lib/min-heap.js';
import type { ReadPlanner } from './duration-history.js';

// When the poller reads which job: one timer to the earliest due time; due jobs wait in a ready queue ordered
// watched-first, then by how long they have been due. Entries are never removed from the heaps: a job rescheduled
// (or untracked) bumps its version, and entries with an older one are dropped when they come up.

export interface TrackedJob {
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

export const trackedJob = (job: Job): TrackedJob => ({
  id: job.id,
  job,
  lastReadAt: 0,
  failures: 0,
  backoffUntil: 0,
  leaseRetryAt: 0,
  busy: false,
  version: 0,
});

export interface Cadence {
  pollIntervalMs: number;
  backgroundPollIntervalMs: number;
  /** Learned strategy: places watched jobs' reads; absent, they come every pollIntervalMs. */
  readPlanner?: ReadPlanner | undefined;
}

/**
 * When a job falls due: one interval after its last upstream read (or pushed state), whoever made it (a watched
 * job's when the planner says, never sooner; a pushed one's when the planner would expect its final webhook to have
 * come, never sooner than the background cadence), but not inside its back-off or before another instance's lease
 * would run out. `watched` is false for a pushed job.
 */
export function dueAt(tracked: TrackedJob, watched: boolean, cadence: Cadence, pushed = false): number {
  const { pollIntervalMs, backgroundPollIntervalMs, readPlanner } = cadence;
  const lastRead = Math.max(tracked.job.lastPolledAt.getTime(), tracked.lastReadAt);
  let next = lastRead + (watched ? pollIntervalMs : backgroundPollIntervalMs);
  if (watched && readPlanner) {
    next = Math.max(next, readPlanner.nextReadAt(tracked.job, lastRead, pollIntervalMs, backgroundPollIntervalMs));
  } else if (pushed && readPlanner) {
    next = Math.max(next, readPlanner.reconcileAt(tracked.job, lastRead, backgroundPollIntervalMs));
  }
  return Math.max(next, tracked.backoffUntil, tracked.leaseRetryAt);
}

export interface Slot {
  tracked: TrackedJob;
  version: number;
  dueAt: number;
  watched: boolean;
  seq: number;
}

/** Jobs due this soon are read in the same wake-up, so that near-simultaneous due times share one timer. */
export const DUE_SLACK_MS = 5;
const MAX_RETRY_AFTER_MS = 10 * 60_000;

export class PollSchedule {
  private readonly timeline = new MinHeap<Slot>((a, b) => a.dueAt < b.dueAt);
  private readonly ready = new MinHeap<Slot>((a, b) =>
    a.watched !== b.watched ? a.watched : a.dueAt !== b.dueAt ? a.dueAt < b.dueAt : a.seq < b.seq,
  );
  private seq = 0;
  private open = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  /**
   * Runs a callback in the async context the schedule was made in (the gateway's wiring), not in that of whoever
   * armed the timer: a timer set while serving a submit would otherwise carry that request's id and trace into every
   * poll read after it.
   */
  private readonly detached = AsyncResource.bind((fn: () => void) => fn());

  constructor(
    private readonly now: () => number,
    /** Called when the timer fires: something has fallen due. */
    private readonly onDue: () => void,
  ) {}

  /** Lets the timer run. */
  start(): void {
    this.open = true;
  }

  /** Stops the timer for good (until start()). */
  stop(): void {
    this.open = false;
    this.clearTimer();
  }

  /** (Re)schedules `tracked` at `dueAt`; any earlier entry of it goes stale. */
  add(tracked: TrackedJob, dueAt: number): void {
    tracked.version++;
    this.timeline.push({ tracked, version: tracked.version, dueAt, watched: false, seq: 0 });
    this.armTimer(dueAt);
  }

  /** Makes every entry of `tracked` stale. */
  forget(tracked: TrackedJob): void {
    tracked.version++;
  }

  /** Moves the jobs due by now to the ready queue, ranked by whether they are watched at this moment. */
  promoteDue(isWatched: (jobId: string) => boolean): void {
    const now = this.now();
    for (let slot = this.timeline.peek(); slot; slot = this.timeline.peek()) {
      if (slot.version !== slot.tracked.version) {
        this.timeline.pop();
        continue;
      }
      if (slot.dueAt > now + DUE_SLACK_MS) break;
      this.timeline.pop();
      this.ready.push({ ...slot, watched: isWatched(slot.tracked.id), seq: this.seq++ });
    }
  }

  /** The most urgent ready job, taken off the queue; a background one only when `backgroundAllowed`. */
  takeReady(backgroundAllowed: boolean): Slot | undefined {
    for (let slot = this.ready.peek(); slot; slot = this.ready.peek()) {
      if (slot.version !== slot.tracked.version || slot.tracked.busy) {
        this.ready.pop();
        continue;
      }
      if (!slot.watched && !backgroundAllowed) return undefined;
      return this.ready.pop();
    }
    return undefined;
  }

  /** Sets the timer for the next job that falls due. */
  armNext(): void {
    const next = this.timeline.peek();
    if (next) this.armTimer(next.dueAt);
  }

  private armTimer(at: number): void {
    if (!this.open || at >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(
      () =>
        this.detached(() => {
          this.timer = undefined;
          this.timerAt = Number.POSITIVE_INFINITY;
          this.onDue();
        }),
      Math.max(0, at - this.now()),
    );
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}

/** Exponential with jitter from one poll interval up to maxBackoffMs; at least what a 429 asked for. */
export function pollBackoffMs(failures: number, err: unknown, pollIntervalMs: number, maxBackoffMs: number): number {
  const exp = Math.min(maxBackoffMs, pollIntervalMs * 2 ** (failures - 1));
  const jittered = exp * (0.5 + Math.random() / 2);
  const retryAfterSeconds = err instanceof UpstreamError ? err.retryAfterSeconds : undefined;
  const asked = retryAfterSeconds === undefined ? 0 : Math.min(retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
  return Math.max(jittered, asked);
}
