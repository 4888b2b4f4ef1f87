import { describe, expect, it } from 'vitest';
import type { Job, JobStatus, UpstreamTaskState } from '../../src/domain/job.js';
import { planStatusChange } from '../../src/services/store/status-change-plan.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const AT = T0 + 5_000;

const RESULT = {
  inputObject: { url: 'https://example.test/in.png', width: 10, height: 10 },
  outputObjects: [{ url: 'https://example.test/out.png', tmpUrl: 'https://example.test/tmp.png' }],
};

function job(status: JobStatus, patch: Partial<Job> = {}): Job {
  return {
    id: 'job-1',
    owner: 'alice',
    upstreamId: 7,
    status,
    request: { input: 'https://example.test/in.png', options: { prompt: 'add a duck' } },
    requestHash: 'hash',
    idempotencyKey: null,
    errors: [],
    result: null,
    history: [{ status: 'ACCEPTED', at: new Date(T0) }],
    createdAt: new Date(T0),
    updatedAt: new Date(T0),
    lastPolledAt: new Date(T0),
    finishedAt: null,
    ...patch,
  };
}

function answer(status: JobStatus, patch: Partial<UpstreamTaskState> = {}): UpstreamTaskState {
  return { upstreamId: 7, status, createdAt: new Date(T0), errors: [], result: null, ...patch };
}

describe('planStatusChange', () => {
  it('plans nothing when the answer tells a reader nothing new', () => {
    expect(planStatusChange(job('ACCEPTED'), answer('ACCEPTED'), AT)).toBeNull();
  });

  it('moves status forward, appends to history with when the status before was last seen, and stamps updatedAt', () => {
    const change = planStatusChange(job('ACCEPTED', { lastPolledAt: new Date(T0 + 2_000) }), answer('PROCESSING'), AT);
    expect(change).toEqual({
      status: 'PROCESSING',
      errors: '[]',
      result: null,
      // The change happened after the previous read (T0 + 2 s) and by this one: the duration model places it between.
      history: JSON.stringify([
        { at: T0, status: 'ACCEPTED' },
        { at: AT, since: T0 + 2_000, status: 'PROCESSING' },
      ]),
      updatedAt: AT,
      finishedAt: null,
    });
  });

  it('records no `since` for an exact moment (a push, a submit answer), and keeps the ones before', () => {
    const processing = job('PROCESSING', {
      history: [
        { status: 'ACCEPTED', at: new Date(T0) },
        { status: 'PROCESSING', at: new Date(T0 + 3_000), since: new Date(T0 + 1_000) },
      ],
    });
    const change = planStatusChange(processing, answer('DONE', { result: RESULT }), AT, AT);
    expect(JSON.parse(change!.history)).toEqual([
      { at: T0, status: 'ACCEPTED' },
      { at: T0 + 3_000, since: T0 + 1_000, status: 'PROCESSING' },
      { at: AT, status: 'DONE' },
    ]);
  });

  it('sets finishedAt and keeps the result when the job reaches a final status', () => {
    const change = planStatusChange(job('PROCESSING'), answer('DONE', { result: RESULT }), AT);
    expect(change?.status).toBe('DONE');
    expect(change?.finishedAt).toBe(AT);
    expect(JSON.parse(change?.result ?? 'null')).toEqual(RESULT);
  });

  it('never moves status backwards, whatever else the late answer says', () => {
    const late = answer('WAITING', { errors: [{ message: 'late', createdAt: new Date(T0) }] });
    expect(planStatusChange(job('PROCESSING'), late, AT)).toBeNull();
  });

  it('never changes a final job', () => {
    const done = job('DONE', { result: RESULT, finishedAt: new Date(T0) });
    expect(planStatusChange(done, answer('DONE', { result: null }), AT)).toBeNull();
    expect(planStatusChange(done, answer('ERROR'), AT)).toBeNull();
  });

  it('records new errors without a status change, leaving history as it was', () => {
    const errors = [{ message: 'retrying', createdAt: new Date(T0 + 1_000) }];
    const change = planStatusChange(job('PROCESSING'), answer('PROCESSING', { errors }), AT);
    expect(change?.errors).toBe(JSON.stringify([{ createdAt: T0 + 1_000, message: 'retrying' }]));
    expect(JSON.parse(change?.history ?? '[]')).toHaveLength(1);
    expect(change?.updatedAt).toBe(AT);
  });

  it('compares the result as canonical JSON: the same answer in another key order is no change', () => {
    const stored = job('PROCESSING', { result: RESULT });
    const reordered = {
      outputObjects: RESULT.outputObjects,
      inputObject: { height: 10, width: 10, url: RESULT.inputObject.url },
    };
    expect(planStatusChange(stored, answer('PROCESSING', { result: reordered }), AT)).toBeNull();
  });

  it('lets PAUSED be entered and left', () => {
    expect(planStatusChange(job('PROCESSING'), answer('PAUSED'), AT)?.status).toBe('PAUSED');
    expect(planStatusChange(job('PAUSED'), answer('WAITING'), AT)?.status).toBe('WAITING');
  });
});
