import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAiEditRequest } from '../../src/domain/ai-edit-request-hash.js';
import type { AiEditRequest, Job, JobStatus } from '../../src/domain/job.js';
import { ANONYMOUS_CALLER } from '../../src/services/auth/authenticator.js';
import { buildInProcessGateway, type InProcessGateway } from './support/in-process.js';

// AiEditJob.estimatedFinishAt and POLL_STRATEGY on built gateways that never listen, learning from jobs put in their
// stores.

let api: InProcessGateway;
beforeAll(async () => {
  api = await buildInProcessGateway();
});
afterAll(() => api.close());

const globalId = (id: string) => Buffer.from(`AiEditJob:${id}`).toString('base64');
const V2: AiEditRequest = { input: 'https://images.example/a.jpg', options: { prompt: 'a duck', model: 'v2' } };
const T0 = Date.parse('2026-01-02T03:00:00.000Z');
const QUERY = 'query($id: ID!) { aiEditJob(id: $id) { status estimatedFinishAt } }';

function insert(status: JobStatus, atMs: number, request: AiEditRequest = V2, on = api): Promise<Job> {
  return on.gateway.internals.store.insert({
    owner: ANONYMOUS_CALLER.name,
    request,
    requestHash: hashAiEditRequest(request),
    idempotencyKey: null,
    upstream: { upstreamId: 7, status, createdAt: new Date(atMs), errors: [], result: null },
    at: new Date(atMs),
  });
}

/** 21 DONE v2 jobs that took 10, 11, ... 30 s (each DONE an exact moment, as a push tells it): the median is 20 s. */
async function insertHistory(on: InProcessGateway, startMs: number): Promise<void> {
  for (let i = 0; i <= 20; i++) {
    const job = await insert('ACCEPTED', startMs, V2, on);
    const state = { upstreamId: 7, status: 'DONE' as const, createdAt: job.createdAt, errors: [], result: null };
    await on.gateway.internals.store.applyUpstreamState(job.id, state, new Date(startMs + 10_000 + i * 1000), true);
  }
}

const estimateOf = async (job: Job) =>
  (await api.gql(QUERY, { id: globalId(job.id) })).data?.aiEditJob as { estimatedFinishAt: string | null };

describe('AiEditJob.estimatedFinishAt', () => {
  it('is null until enough jobs of the kind finished, then the median finish of jobs like it, null once final', async () => {
    const running = await insert('ACCEPTED', T0);
    const otherKind = await insert('ACCEPTED', T0, { ...V2, options: { prompt: 'a duck', model: 'v1' } });
    expect(await estimateOf(running)).toEqual({ status: 'ACCEPTED', estimatedFinishAt: null });

    await insertHistory(api, T0 - 100_000);
    expect(await estimateOf(running)).toEqual({ status: 'ACCEPTED', estimatedFinishAt: null }); // not relearned yet
    expect(await api.gateway.internals.durations.refresh()).toBe(true);

    expect(await estimateOf(running)).toEqual({ status: 'ACCEPTED', estimatedFinishAt: '2026-01-02T03:00:20.000Z' });
    expect(await estimateOf(otherKind)).toMatchObject({ estimatedFinishAt: null });
    const done = await insert('DONE', T0);
    expect(await estimateOf(done)).toEqual({ status: 'DONE', estimatedFinishAt: null });
  });
});

describe('POLL_STRATEGY', () => {
  // The embedded simulator is not started here, so every read fails at once; the poller still counts it.
  async function readsOfAJobJustSubmitted(strategy: 'fixed' | 'learned'): Promise<number> {
    const gateway = await buildInProcessGateway({ env: { POLL_STRATEGY: strategy, POLL_INTERVAL_MS: '100' } });
    try {
      await insertHistory(gateway, Date.now() - 100_000);
      await gateway.gateway.internals.durations.refresh();
      const job = await insert('ACCEPTED', Date.now(), V2, gateway);
      const { poller } = gateway.gateway.internals;
      await poller.start();
      poller.watch(job.id);
      await new Promise((resolve) => setTimeout(resolve, 600));
      return poller.stats().readsByJob.get(job.id) ?? 0;
    } finally {
      await gateway.close();
    }
  }

  it('learned (the default) waits for where jobs like it finish; fixed reads every POLL_INTERVAL_MS', async () => {
    expect(await readsOfAJobJustSubmitted('learned')).toBe(0); // the first read is due about 17 s after the submit
    expect(await readsOfAJobJustSubmitted('fixed')).toBeGreaterThanOrEqual(1);
  });
});
