import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { gql, READ, SUBMIT, startTestGateway } from './support/gateway.js';
import { collect, collectSse, UPDATED, wsClient } from './support/subscriptions.js';
import {
  claidData,
  claidResult,
  claidTask,
  SUBMIT_PATH,
  startTestUpstream,
  type TestUpstream,
} from './support/test-upstream.js';

// Spend limits per caller: each is hit and answered with RATE_LIMITED before any upstream call, and the gateway
// keeps serving other callers.

const INPUT = 'https://images.example.com/room.jpg';
const KEYS = 'alice:alice-key-0001,bob:bob-key-000002';
const ALICE = { authorization: 'Bearer alice-key-0001' };
const BOB = { authorization: 'Bearer bob-key-000002' };

let upstream: TestUpstream;
const cleanups: (() => unknown)[] = [];
beforeAll(async () => {
  upstream = await startTestUpstream({ apiKey: 'upstream-key' });
  cleanups.push(() => upstream.close());
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});
beforeEach(() => upstream.reset());

async function gateway(env: Record<string, string>): Promise<Gateway> {
  const g = await startTestGateway({
    env: {
      CLAID_API_KEY: 'upstream-key',
      CLAID_API_URL: upstream.url,
      POLL_INTERVAL_MS: '50',
      AUTH_MODE: 'apikey',
      GATEWAY_API_KEYS: KEYS,
      ...env,
    },
  });
  cleanups.push(() => g.stop());
  return g;
}

const submit = (g: Gateway, headers: Record<string, string>, prompt = 'add a duck', idempotencyKey?: string) =>
  gql(
    g,
    SUBMIT,
    { input: { input: INPUT, options: { prompt }, ...(idempotencyKey ? { idempotencyKey } : {}) } },
    headers,
  );

const submitsUpstream = () => upstream.requestsTo('POST', SUBMIT_PATH).length;

describe('MAX_SUBMITS_PER_MINUTE', () => {
  it('refuses the submit over the limit with RATE_LIMITED and retryAfterSeconds, before the upstream; others go on', async () => {
    const g = await gateway({ MAX_SUBMITS_PER_MINUTE: '2' });
    const first = await submit(g, ALICE, 'add a duck', 'key-1');
    expect(first.errors).toBeUndefined();
    expect((await submit(g, ALICE, 'add a goose')).errors).toBeUndefined();
    expect(submitsUpstream()).toBe(2);

    const refused = await submit(g, ALICE, 'add a swan', 'key-3');
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_SUBMITS_PER_MINUTE' });
    const retryAfter = refused.errors![0]!.extensions!.retryAfterSeconds as number;
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(submitsUpstream()).toBe(2);

    // A replay of an earlier idempotency key makes no upstream call and is not refused.
    const replay = await submit(g, ALICE, 'add a duck', 'key-1');
    expect(replay.data!.submitAiEdit.job.id).toBe(first.data!.submitAiEdit.job.id);
    // The refused submit freed its key: retrying it is refused for the limit again, not as a reused key.
    const again = await submit(g, ALICE, 'add a heron', 'key-3');
    expect(again.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');

    // Another caller, and reads by the limited one, are still served.
    expect((await submit(g, BOB)).errors).toBeUndefined();
    expect((await gql(g, READ, { id: first.data!.submitAiEdit.job.id }, ALICE)).data!.aiEditJob.id).toBe(
      first.data!.submitAiEdit.job.id,
    );
    expect(submitsUpstream()).toBe(3);
  });
});

describe('MAX_UNFINISHED_JOBS', () => {
  it('refuses a submit while the caller has that many unfinished jobs; one finishing makes room', async () => {
    const g = await gateway({ MAX_UNFINISHED_JOBS: '2' });
    const jobs = [await submit(g, ALICE), await submit(g, ALICE)].map(
      (r) => r.data!.submitAiEdit.job as { id: string; upstreamId: number },
    );
    const refused = await submit(g, ALICE);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_UNFINISHED_JOBS' });
    expect(refused.errors![0]!.extensions!.retryAfterSeconds).toBeGreaterThan(0);
    expect(submitsUpstream()).toBe(2);
    expect((await submit(g, BOB)).errors).toBeUndefined();

    upstream.setTask(jobs[0]!.upstreamId, { status: 'DONE', result: claidResult(1) });
    await expect
      .poll(async () => (await gql(g, READ, { id: jobs[0]!.id }, ALICE)).data!.aiEditJob.status, {
        timeout: 5_000,
        interval: 60,
      })
      .toBe('DONE');
    expect((await submit(g, ALICE)).errors).toBeUndefined();
  });

  it('counts a submit under way once: its stored QUEUED job, not also its place in flight', async () => {
    const g = await gateway({ MAX_UNFINISHED_JOBS: '2' });
    // The first submit is still waiting for Claid when the second arrives.
    upstream.enqueue(
      { delayMs: 700, status: 200, body: claidData(claidTask({ id: 9001, status: 'ACCEPTED' })) },
      { method: 'POST' },
    );
    const first = submit(g, ALICE, 'add a slow duck');
    await new Promise((r) => setTimeout(r, 300));
    const second = await submit(g, ALICE, 'add a quick duck');
    expect(second.errors).toBeUndefined();
    expect((await first).errors).toBeUndefined();
    const third = await submit(g, ALICE);
    expect(third.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_UNFINISHED_JOBS' });
  });

  it('a burst of concurrent submits cannot slip past it', async () => {
    const g = await gateway({ MAX_UNFINISHED_JOBS: '3' });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => submit(g, ALICE, `add duck number ${i}`)));
    expect(results.filter((r) => !r.errors).length).toBe(3);
    expect(results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED').length).toBe(5);
    expect(submitsUpstream()).toBe(3);
  });
});

describe('subscription limits', () => {
  let g: Gateway;
  let jobId: string;
  beforeAll(async () => {
    g = await gateway({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '2', MAX_SUBSCRIPTIONS_PER_CALLER: '3' });
    jobId = (await submit(g, ALICE)).data!.submitAiEdit.job.id;
    await submit(g, BOB);
  });

  const firstError = async (sub: ReturnType<typeof collect>) => {
    const { error, events } = await sub.done;
    return ((error as { extensions?: Record<string, unknown> }[] | undefined) ?? events[0]?.errors)?.[0];
  };

  it('MAX_SUBSCRIPTIONS_PER_CONNECTION and MAX_SUBSCRIPTIONS_PER_CALLER are answered with RATE_LIMITED; a finished one frees its slot', async () => {
    const one = wsClient(g, ALICE);
    const two = wsClient(g, ALICE);
    cleanups.push(
      () => one.dispose(),
      () => two.dispose(),
    );

    const a = collect(one, UPDATED, { id: jobId });
    const b = collect(one, UPDATED, { id: jobId });
    await expect.poll(() => a.events.length + b.events.length, { timeout: 5_000 }).toBe(2);
    expect(await firstError(collect(one, UPDATED, { id: jobId }))).toMatchObject({
      extensions: { code: 'RATE_LIMITED', limit: 'MAX_SUBSCRIPTIONS_PER_CONNECTION' },
    });

    // Another connection of the same caller: one more fits (3 per caller), then the caller limit.
    const c = collect(two, UPDATED, { id: jobId });
    await expect.poll(() => c.events.length, { timeout: 5_000 }).toBe(1);
    expect(await firstError(collect(two, UPDATED, { id: jobId }))).toMatchObject({
      extensions: { code: 'RATE_LIMITED', limit: 'MAX_SUBSCRIPTIONS_PER_CALLER' },
    });
    // SSE counts against the caller too.
    const sse = await collectSse(g, UPDATED, { id: jobId }, ALICE);
    expect(sse.events[0]?.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'MAX_SUBSCRIPTIONS_PER_CALLER',
    });

    // Another caller is served meanwhile.
    const bob = wsClient(g, BOB);
    cleanups.push(() => bob.dispose());
    const unknown = Buffer.from('AiEditJob:00000000-0000-4000-8000-000000000000').toString('base64');
    expect(await firstError(collect(bob, UPDATED, { id: unknown }))).toMatchObject({
      extensions: { code: 'NOT_FOUND' },
    });
    expect((await gql(g, READ, { id: jobId }, ALICE)).data!.aiEditJob.id).toBe(jobId);

    // Closing a connection releases its subscriptions' slots.
    await one.dispose();
    const deadline = Date.now() + 5_000;
    let served = false;
    while (!served && Date.now() < deadline) {
      const d = collect(two, UPDATED, { id: jobId });
      const outcome = await Promise.race([
        d.done.then(() => 'ended'),
        new Promise((r) => setTimeout(r, 300)).then(() => 'open'),
      ]);
      served = outcome === 'open' && d.events[0]?.data?.aiEditJobUpdated?.id === jobId;
    }
    expect(served).toBe(true);
  });
});
