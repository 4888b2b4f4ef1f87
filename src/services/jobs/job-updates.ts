import { Repeater, SlidingBuffer } from '@repeaterjs/repeater';
import { GatewayError } from '../../domain/errors.js';
import type { AiEditError, AiEditResult, Job } from '../../domain/job.js';
import { isFinalStatus } from '../../domain/job.js';
import type { JobPubSub } from './job-events.js';

export interface JobWatchRegistry {
  /** Registers interest in a job so it is polled at the watched cadence; returns the release. */
  watch(jobId: string): () => void;
  /**
   * A subscriber heard the job end (its final state, as stored): nothing is left to read, whichever instance read it.
   */
  sawFinal?(job: Job): void;
}

export interface JobUpdatesDeps {
  events: JobPubSub;
  poller: JobWatchRegistry;
  /**
   * Loads jobs for an owner as stored (JobService.findJobs): the first event never waits for an upstream read; a
   * stale job is read by the poller as soon as it is watched, and any change follows as the next event.
   */
  loadJobs(owner: string, ids: readonly string[]): Promise<(Job | null)[]>;
  /** Aborted when the gateway shuts down: every stream completes. */
  shutdown: AbortSignal;
}

/**
 * A job's live state for one subscriber: the current state first, then one value per change (status, errors or
 * result), ending after a final state. A slow subscriber skips straight to the newest state (a sliding buffer of
 * one). Resolves only once the job is known, so that an unknown id (or another owner's job) fails the subscription
 * with NOT_FOUND up front.
 */
export async function openJobUpdates(deps: JobUpdatesDeps, owner: string, jobId: string): Promise<Repeater<Job>> {
  const subscription = deps.events.subscribe('job:updated', jobId);
  // The pub/sub listens from the first next(): ask for it before loading, so that a change published in between is
  // not lost.
  const firstEvent = subscription.next();
  let current: Job | null | undefined;
  try {
    [current] = await deps.loadJobs(owner, [jobId]);
  } catch (error) {
    await subscription.return();
    throw error;
  }
  if (!current) {
    await subscription.return();
    throw new GatewayError('NOT_FOUND', 'No job with this id.', { field: 'id' });
  }
  const first = current;

  // return() stops the repeater at once, even while it waits for a change: a subscriber that leaves a quiet job
  // releases its watch without waiting for the next event.
  return new Repeater<Job>(async (push, stop) => {
    void push(first);
    const ended = isFinalStatus(first.status) || deps.shutdown.aborted;
    if (ended) stop();
    const release = ended ? undefined : deps.poller.watch(first.id);
    const leaveShutdown = onShutdown(deps.shutdown, () => stop());
    const follow = (async () => {
      let last = first;
      for (let event = await firstEvent; !event.done; event = await subscription.next()) {
        const job = event.value;
        if (job.owner !== first.owner || !isNewer(job, last)) continue;
        last = job;
        void push(job);
        if (isFinalStatus(job.status)) {
          deps.poller.sawFinal?.(job);
          return stop();
        }
      }
    })();
    await stop;
    release?.();
    leaveShutdown();
    await subscription.return();
    await follow.catch(() => undefined);
  }, new SlidingBuffer(1));
}

// Every open stream of one gateway waits on the same shutdown signal. One abort listener per stream would put more
// than ten on it once an instance holds ten subscriptions (Node's MaxListenersExceededWarning), so the streams share
// one listener, added with the first and removed with the last.
const shutdownStops = new WeakMap<AbortSignal, { stops: Set<() => void>; listener: () => void }>();

/** Calls `stop` when `signal` aborts; returns what unregisters it (the signal's listener goes with the last one). */
export function onShutdown(signal: AbortSignal, stop: () => void): () => void {
  let entry = shutdownStops.get(signal);
  if (!entry) {
    const stops = new Set<() => void>();
    const listener = () => {
      shutdownStops.delete(signal);
      for (const each of stops) each();
    };
    entry = { stops, listener };
    shutdownStops.set(signal, entry);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { stops, listener } = entry;
  // A distinct function per stream, so that two streams with the same stop are still two entries.
  const registered = () => stop();
  stops.add(registered);
  return () => {
    if (!stops.delete(registered) || stops.size > 0) return;
    signal.removeEventListener('abort', listener);
    if (shutdownStops.get(signal)?.stops === stops) shutdownStops.delete(signal);
  };
}

/** Whether `next` tells a subscriber something `last` did not: a later update that changed what they see. */
export function isNewer(next: Job, last: Job): boolean {
  if (next.updatedAt.getTime() < last.updatedAt.getTime()) return false;
  return next.status !== last.status || !sameJson(next.errors, last.errors) || !sameJson(next.result, last.result);
}

function sameJson(a: AiEditError[] | AiEditResult | null, b: AiEditError[] | AiEditResult | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
