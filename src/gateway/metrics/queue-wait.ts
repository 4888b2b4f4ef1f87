import type { ApplyResult } from '../../services/store/job-store.js';

// Queue wait, read from a job's own history rather than from whatever queues it: a job is recorded QUEUED, and the
// store appends its next status when the job takes its upstream id. So a change whose job has an upstream id and
// exactly one status after its QUEUED start is that moment, whoever sent the job and however long it waited.

/** Milliseconds the job spent QUEUED, when this change is the one that ended its wait; else undefined. */
export function queueWaitOf({ job, changed }: ApplyResult): number | undefined {
  if (!changed || job.upstreamId === null) return undefined;
  const [queued, next, ...later] = job.history;
  if (queued?.status !== 'QUEUED' || !next || next.status === 'QUEUED' || later.length > 0) return undefined;
  return Math.max(0, next.at.getTime() - queued.at.getTime());
}
