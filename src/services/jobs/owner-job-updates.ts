import { GatewayError } from '../../domain/errors.js';
import { isFinalStatus, type Job, type JobStatus } from '../../domain/job.js';
import { LatestPerKeyChannel } from '../../lib/latest-per-key-channel.js';
import type { JobPubSub } from './job-events.js';
import { isNewer, type JobWatchRegistry, onShutdown } from './job-updates.js';

// The changes of many of one owner's jobs for one subscriber (aiEditJobsUpdated), from the owner's topic
// ('job:owner-updated', on Redis with REDIS_URL like every topic): one subscription for a whole page of jobs.

export interface OwnerJobUpdatesDeps {
  events: JobPubSub;
  poller: JobWatchRegistry;
  /** Jobs by id for an owner as stored, null for unknown or another owner's (JobService.findJobs). */
  loadJobs(owner: string, ids: readonly string[]): Promise<(Job | null)[]>;
  /** The owner's unfinished jobs, newest first, at most `limit` (the store's listing). */
  listUnfinished(owner: string, limit: number): Promise<Job[]>;
  /** Aborted when the gateway shuts down: every stream completes. */
  shutdown: AbortSignal;
}

export interface OwnerJobUpdatesFilter {
  /** Only these jobs; the stream completes once all are final. Absent: every job of the owner, never completing. */
  jobIds?: readonly string[];
  /** Only changes into one of these statuses (the jobs are still followed, and watched, in between). */
  statuses?: readonly JobStatus[];
}

/**
 * Unfinished jobs one stream marks as watched (polled at the watched cadence) at most: MAX_UNFINISHED_JOBS keeps a
 * caller below it by default; beyond it the rest are polled at the background cadence, as unwatched jobs are.
 */
export const MAX_WATCHED_PER_STREAM = 200;
/** States remembered to drop stale or repeated events; the oldest final ones are forgotten past this. */
const MAX_REMEMBERED = 1000;

/**
 * Resolves once the subscription listens and (with jobIds) every id is known as the owner's, so that an unknown id
 * (or another owner's job) fails the subscription with NOT_FOUND up front. The stream sends changes only, never the
 * current states; a slow subscriber skips a job's intermediate states, never a job (the newest unread per job).
 */
export async function openOwnerJobUpdates(
  deps: OwnerJobUpdatesDeps,
  owner: string,
  filter: OwnerJobUpdatesFilter,
): Promise<LatestPerKeyChannel<Job>> {
  const subscription = deps.events.subscribe('job:owner-updated', owner);
  // Listening from the first next(), asked before loading: a change published meanwhile is not lost.
  const firstEvent = subscription.next();
  let known: Job[];
  try {
    known = filter.jobIds
      ? await loadOwned(deps, owner, filter.jobIds)
      : await deps.listUnfinished(owner, MAX_WATCHED_PER_STREAM);
  } catch (error) {
    await subscription.return();
    throw error;
  }
  const wanted = filter.jobIds ? new Set(filter.jobIds) : undefined;
  const statuses = filter.statuses ? new Set(filter.statuses) : undefined;
  const last = new Map<string, Job>(known.map((job) => [job.id, job]));
  const watches = new Map<string, () => void>();
  const follow = (job: Job) => {
    if (isFinalStatus(job.status)) {
      watches.get(job.id)?.();
      watches.delete(job.id);
    } else if (!watches.has(job.id) && watches.size < MAX_WATCHED_PER_STREAM) {
      watches.set(job.id, deps.poller.watch(job.id));
    }
  };
  // A forgotten job was final (remember() forgets only those).
  const isDone = (id: string) => {
    const status = last.get(id)?.status;
    return status === undefined || isFinalStatus(status);
  };
  const allFinal = () => wanted !== undefined && [...wanted].every(isDone);

  // Unlike a Repeater, the channel runs from here, not from the first pull: its return() (the subscriber left, even
  // before pulling) or its end releases the watches and the subscription.
  let leaveShutdown = () => {};
  const channel = new LatestPerKeyChannel<Job>(
    (job) => job.id,
    () => {
      for (const release of watches.values()) release();
      watches.clear();
      leaveShutdown();
      void subscription.return();
    },
  );
  if (allFinal() || deps.shutdown.aborted) {
    channel.end();
    return channel;
  }
  for (const job of known) follow(job);
  leaveShutdown = onShutdown(deps.shutdown, () => channel.end());
  void (async () => {
    for (let event = await firstEvent; !event.done && !channel.ended; event = await subscription.next()) {
      const job = event.value;
      if (job.owner !== owner || (wanted && !wanted.has(job.id))) continue;
      const previous = last.get(job.id);
      if (previous && !isNewer(job, previous)) continue;
      remember(last, job);
      follow(job);
      if (!statuses || statuses.has(job.status)) channel.push(job);
      if (allFinal()) return channel.end();
    }
  })().catch((error: unknown) => channel.end(error));
  return channel;
}

async function loadOwned(deps: OwnerJobUpdatesDeps, owner: string, ids: readonly string[]): Promise<Job[]> {
  const jobs = await deps.loadJobs(owner, ids);
  const missing = jobs.findIndex((job) => !job);
  if (missing >= 0) throw new GatewayError('NOT_FOUND', 'No job with this id.', { field: `ids.${missing}` });
  return jobs as Job[];
}

/** Keeps `job` as its id's newest state; past MAX_REMEMBERED, forgets the oldest final job (it changes no more). */
function remember(last: Map<string, Job>, job: Job): void {
  last.delete(job.id);
  last.set(job.id, job);
  if (last.size <= MAX_REMEMBERED) return;
  for (const [id, each] of last) {
    if (isFinalStatus(each.status)) {
      last.delete(id);
      return;
    }
  }
}
