import { GatewayError } from '../../domain/errors.js';
import type { AiEditError, AiEditResult, Job } from '../../domain/job.js';
import { isFinalStatus } from '../../domain/job.js';
import { LatestValueQueue } from '../../lib/latest-value-queue.js';
import type { JobPubSub } from './job-events.js';

export interface JobWatchRegistry {
  /** Registers interest in a job so it is polled at the watched cadence; returns the release. */
  watch(jobId: string): () => void;
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
 * result), ending after a final state. A slow subscriber skips straight to the newest state. Resolves only once the
 * job is known, so that an unknown id (or another owner's job) fails the subscription with NOT_FOUND up front.
 */
export async function openJobUpdates(deps: JobUpdatesDeps, owner: string, jobId: string): Promise<AsyncGenerator<Job>> {
  // Listen before loading, so that a change published in between is not lost.
  const queue = new LatestValueQueue<Job>();
  const subscription = deps.events.subscribe('job:updated', jobId);
  const pump = (async () => {
    for await (const job of subscription) queue.push(job);
  })();
  const onShutdown = () => queue.close();
  deps.shutdown.addEventListener('abort', onShutdown, { once: true });
  const cleanup = async () => {
    deps.shutdown.removeEventListener('abort', onShutdown);
    queue.close();
    await subscription.return?.();
    await pump.catch(() => undefined);
  };

  let current: Job | null | undefined;
  try {
    [current] = await deps.loadJobs(owner, [jobId]);
  } catch (error) {
    await cleanup();
    throw error;
  }
  if (!current) {
    await cleanup();
    throw new GatewayError('NOT_FOUND', 'No job with this id.', { field: 'id' });
  }
  const updates = follow(deps, queue, current, cleanup);
  // A generator waiting inside `for await` only sees return() once a value arrives; a subscriber that leaves a quiet
  // job must release its watch at once, so closing the queue comes first.
  const originalReturn = updates.return.bind(updates);
  updates.return = (value) => {
    queue.close();
    return originalReturn(value);
  };
  return updates;
}

async function* follow(
  deps: JobUpdatesDeps,
  queue: LatestValueQueue<Job>,
  current: Job,
  cleanup: () => Promise<void>,
): AsyncGenerator<Job> {
  let release: (() => void) | undefined;
  try {
    let last = current;
    yield current;
    if (isFinalStatus(current.status) || deps.shutdown.aborted) return;
    release = deps.poller.watch(current.id);
    for await (const job of queue) {
      if (job.owner !== current.owner || !isNewer(job, last)) continue;
      last = job;
      yield job;
      if (isFinalStatus(job.status)) return;
    }
  } finally {
    release?.();
    await cleanup();
  }
}

/** Whether `next` tells a subscriber something `last` did not: a later update that changed what they see. */
function isNewer(next: Job, last: Job): boolean {
  if (next.updatedAt.getTime() < last.updatedAt.getTime()) return false;
  return next.status !== last.status || !sameJson(next.errors, last.errors) || !sameJson(next.result, last.result);
}

function sameJson(a: AiEditError[] | AiEditResult | null, b: AiEditError[] | AiEditResult | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
