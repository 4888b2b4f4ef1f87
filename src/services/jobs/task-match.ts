import { UpstreamError } from '../../domain/errors.js';
import type { Job, SentJob, UpstreamTaskState } from '../../domain/job.js';
import { toClaidRequestBody } from '../upstream/claid-mapping.js';

// Whether a status read is about this job's task at all. An upstream that was reset (a simulator that lost its
// tasks, a test double) may hand a job's task id to a new task, or forget it: the job must then end, not adopt
// another job's result or be polled for ever.

export const foreignTaskMessage = (reason: string): string =>
  `The upstream answered with a different task than this job's (${reason}; the upstream may have been reset); ` +
  "this job's outcome is unknown.";

/** Default for how long a task may stay unknown upstream (404) before its job ends ERROR. */
export const DEFAULT_UNKNOWN_TASK_GRACE_MS = 5 * 60_000;

export const unknownTaskMessage = (graceMs: number): string =>
  `The upstream no longer knows this job's task (HTTP 404 for more than ${graceMs < 1000 ? `${graceMs} ms` : `${Math.round(graceMs / 1000)} s`}; ` +
  "the upstream may have been reset); this job's outcome is unknown.";

// The echoed fields compared with what the job sent, by path in Claid's request body.
const COMPARED: readonly (readonly string[])[] = [
  ['input'],
  ['options', 'prompt'],
  ['options', 'model'],
  ['options', 'aspect_ratio'],
  ['options', 'inference_steps'],
  ['options', 'guidance_scale'],
  ['output', 'format'],
  ['output', 'number_of_images'],
  ['output', 'destination'],
];

function at(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * Why `state` is not this job's task, or null when it may be. A field counts only where both the job's request and
 * the echo have it: Claid may fill in defaults the job left out, and an answer without an echo cannot be judged.
 */
export function foreignTaskReason(job: Job, state: UpstreamTaskState): string | null {
  if (state.upstreamId !== job.upstreamId)
    return `asked for task ${job.upstreamId}, the answer is about task ${state.upstreamId}`;
  if (typeof state.request !== 'object' || state.request === null) return null;
  const sent = toClaidRequestBody(job.request);
  for (const path of COMPARED) {
    const mine = at(sent, path);
    const theirs = at(state.request, path);
    if (mine !== undefined && theirs !== undefined && mine !== theirs)
      return `task ${state.upstreamId} has another ${path.join('.')}`;
  }
  return null;
}

/** Whether a failed read says that the upstream does not know the task. */
export const isUnknownTaskError = (error: unknown): boolean =>
  error instanceof UpstreamError && error.upstream.httpStatus === 404;

/** The state that ends `job` with `message`, keeping the errors it had and dropping any result. */
export function endedWithError(job: SentJob, message: string, now: Date): UpstreamTaskState {
  return {
    upstreamId: job.upstreamId,
    status: 'ERROR',
    createdAt: job.createdAt,
    errors: [...job.errors, { message, createdAt: now }],
    result: null,
  };
}

/** When each job's task was first answered 404 (since this process last read it successfully). */
export class UnknownTaskClock {
  private readonly since = new Map<string, number>();

  constructor(readonly graceMs: number) {}

  /** Records a 404 for `jobId`; true once the task has been unknown for longer than the grace. */
  unknownFor(jobId: string, now: number): boolean {
    const first = this.since.get(jobId) ?? now;
    this.since.set(jobId, first);
    return now - first >= this.graceMs;
  }

  forget(jobId: string): void {
    this.since.delete(jobId);
  }
}
