import { describe, expect, it } from 'vitest';
import type { Job, JobStatus } from '../../src/domain/job.js';
import { queueWaitOf } from '../../src/gateway/metrics/queue-wait.js';

// Queue wait is read from a job's history: only the change that takes a QUEUED job to its first upstream status.

const at = (ms: number) => new Date(1_700_000_000_000 + ms);
function job(upstreamId: number | null, history: [JobStatus, number][]): Job {
  return {
    upstreamId,
    status: history.at(-1)![0],
    history: history.map(([status, ms]) => ({ status, at: at(ms) })),
  } as Job;
}

describe('queueWaitOf', () => {
  it('is the time from QUEUED to the status the job took with its upstream id', () => {
    expect(
      queueWaitOf({
        changed: true,
        job: job(7, [
          ['QUEUED', 0],
          ['ACCEPTED', 1_250],
        ]),
      }),
    ).toBe(1_250);
    expect(
      queueWaitOf({
        changed: true,
        job: job(7, [
          ['QUEUED', 0],
          ['PROCESSING', 40],
        ]),
      }),
    ).toBe(40);
  });

  it('is nothing for any other change', () => {
    // A later read of the same job.
    expect(
      queueWaitOf({
        changed: true,
        job: job(7, [
          ['QUEUED', 0],
          ['ACCEPTED', 10],
          ['DONE', 90],
        ]),
      }),
    ).toBe(undefined);
    // Unchanged, or ended without an upstream id (outcome unknown), or a job that never was QUEUED.
    expect(
      queueWaitOf({
        changed: false,
        job: job(7, [
          ['QUEUED', 0],
          ['ACCEPTED', 10],
        ]),
      }),
    ).toBeUndefined();
    expect(
      queueWaitOf({
        changed: true,
        job: job(null, [
          ['QUEUED', 0],
          ['ERROR', 10],
        ]),
      }),
    ).toBeUndefined();
    expect(
      queueWaitOf({
        changed: true,
        job: job(7, [
          ['ACCEPTED', 0],
          ['DONE', 10],
        ]),
      }),
    ).toBeUndefined();
  });
});
