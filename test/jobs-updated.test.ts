import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { type Simulator, startSimulator } from '../src/simulator/server.js';
import { gql, SUBMIT, startTestGateway } from './support/gateway.js';
import { freshKeyPrefix, testRedisUrl } from './support/redis.js';
import { collect, collectSse, wsClient } from './support/subscriptions.js';

// aiEditJobsUpdated: one subscription for many of a caller's jobs, over graphql-ws and SSE, on real sockets in front
// of the simulator: it sees every job's changes, filters by ids and status, sees only the caller's jobs, shares and
// counts like aiEditJobUpdated, and (with Redis) hears changes that another instance made.

const JOBS_UPDATED = /* GraphQL */ `
  subscription JobsUpdated($ids: [ID!], $status: [AiEditJobStatus!]) {
    aiEditJobsUpdated(ids: $ids, status: $status) { id status isFinal updatedAt }
  }
`;
const KEYS = { alice: 'alice-key-0001', bob: 'bob-key-000002' };
const bearer = (name: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[name]}` });
const wsAs = (gateway: { url: string }, name: keyof typeof KEYS) =>
  wsClient(gateway, { authorization: `Bearer ${KEYS[name]}` });

type Update = { id: string; status: string; isFinal: boolean };
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function submitAs(gateway: { url: string }, simulator: Simulator, name: keyof typeof KEYS): Promise<string> {
  const res = await gql(
    gateway,
    SUBMIT,
    { input: { input: simulator.sampleUrl(), options: { prompt: `a duck for ${name}` } } },
    bearer(name),
  );
  expect(res.errors).toBeUndefined();
  return res.data!.submitAiEdit.job.id;
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A subscription's refusal: graphql-ws's error messages, or the errors of its one result. */
const refusalOf = (outcome: { error?: unknown; events: { errors?: any[] }[] }) =>
  ((outcome.error as any[] | undefined) ?? outcome.events[0]?.errors)?.[0];

const updates = (events: { data?: any }[]): Update[] => events.map((e) => e.data?.aiEditJobsUpdated);
const doneIds = (events: { data?: any }[]) =>
  new Set(
    updates(events)
      .filter((u) => u?.status === 'DONE')
      .map((u) => u.id),
  );

async function gatewayPair(env: Record<string, string> = {}, stepMs = 250) {
  const simulator = await startSimulator({ stepMs });
  const gateway = await startTestGateway({
    env: {
      CLAID_API_URL: simulator.url,
      AUTH_MODE: 'apikey',
      GATEWAY_API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`,
      POLL_INTERVAL_MS: '40',
      BACKGROUND_POLL_INTERVAL_MS: '5000',
      ...env,
    },
  });
  cleanups.push(
    () => simulator.close(),
    () => gateway.stop(),
  );
  return { simulator, gateway };
}

describe('aiEditJobsUpdated', () => {
  let simulator: Simulator;
  let gateway: Gateway;
  beforeAll(async () => {
    ({ simulator, gateway } = await gatewayPair());
  });

  it('over graphql-ws: one subscription sees every change of several of the caller’s jobs, and only theirs', async () => {
    const alice = wsAs(gateway, 'alice');
    const bob = wsAs(gateway, 'bob');
    cleanups.push(
      () => alice.dispose(),
      () => bob.dispose(),
    );
    const aliceFeed = collect(alice, JOBS_UPDATED, {});
    const bobFeed = collect(bob, JOBS_UPDATED, {});
    await until('both subscriptions', () => gateway.internals.sharedSubscriptions.webSocket.streamCount === 2);

    const mine = [
      await submitAs(gateway, simulator, 'alice'),
      await submitAs(gateway, simulator, 'alice'),
      await submitAs(gateway, simulator, 'alice'),
    ];
    const bobs = await submitAs(gateway, simulator, 'bob');
    await until('alice’s three jobs DONE', () => doneIds(aliceFeed.events).size === 3);
    await until('bob’s job DONE', () => doneIds(bobFeed.events).size === 1);

    expect([...doneIds(aliceFeed.events)].sort()).toEqual([...mine].sort());
    expect(new Set(updates(aliceFeed.events).map((u) => u.id))).toEqual(new Set(mine));
    expect(new Set(updates(bobFeed.events).map((u) => u.id))).toEqual(new Set([bobs]));
    // Every job walked forward through its changes, each seen once per status.
    for (const id of mine) {
      const statuses = updates(aliceFeed.events)
        .filter((u) => u.id === id)
        .map((u) => u.status);
      expect(statuses.at(-1)).toBe('DONE');
      expect(new Set(statuses).size).toBe(statuses.length);
    }
    await alice.dispose();
    await bob.dispose();
  });

  it('with ids and status: only those jobs’ changes into those statuses, completing once all are final', async () => {
    // Slow enough that no job is final before the subscriptions start: they send changes only.
    const { gateway, simulator } = await gatewayPair({}, 1000);
    const [first, second, other] = [
      await submitAs(gateway, simulator, 'alice'),
      await submitAs(gateway, simulator, 'alice'),
      await submitAs(gateway, simulator, 'alice'),
    ];
    const client = wsAs(gateway, 'alice');
    cleanups.push(() => client.dispose());
    const onlyDone = collect(client, JOBS_UPDATED, { ids: [first, second], status: ['DONE'] });
    const sse = collectSse(gateway, JOBS_UPDATED, { ids: [second, other] }, bearer('alice'));

    const { events, error } = await onlyDone.done;
    expect(error).toBeUndefined();
    expect(updates(events).map((u) => u.status)).toEqual(['DONE', 'DONE']);
    expect(new Set(updates(events).map((u) => u.id))).toEqual(new Set([first, second]));

    const streamed = await sse;
    expect(streamed.status).toBe(200);
    expect(streamed.completed).toBe(true);
    expect(new Set(updates(streamed.events).map((u) => u.id))).toEqual(new Set([second, other]));
    expect(doneIds(streamed.events)).toEqual(new Set([second, other]));
  });

  it('over SSE without ids: streams the caller’s changes until the client leaves', async () => {
    const controller = new AbortController();
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer('bob') },
      body: JSON.stringify({ query: JOBS_UPDATED, variables: {} }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    let text = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk);
    })().catch(() => undefined);
    await until('the SSE subscription', () => gateway.internals.sharedSubscriptions.http.streamCount === 1);
    const mine = await submitAs(gateway, simulator, 'bob');
    const theirs = await submitAs(gateway, simulator, 'alice');
    await until('bob’s job DONE over SSE', () => text.includes(`"id":"${mine}","status":"DONE"`));
    expect(text).not.toContain(theirs);
    controller.abort();
    await reading;
    await until('the SSE stream released', () => gateway.internals.sharedSubscriptions.http.streamCount === 0);
  });

  it('is NOT_FOUND for an id that is another caller’s, and BAD_USER_INPUT for a malformed one', async () => {
    const bobs = await submitAs(gateway, simulator, 'bob');
    const client = wsAs(gateway, 'alice');
    cleanups.push(() => client.dispose());
    const foreign = await collect(client, JOBS_UPDATED, { ids: [bobs] }).done;
    expect(refusalOf(foreign)?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'ids.0' });
    const malformed = await collect(client, JOBS_UPDATED, { ids: ['not-a-global-id'] }).done;
    expect(refusalOf(malformed)?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids.0' });
  });

  it('marks the caller’s unfinished jobs watched while it runs, and releases them after', async () => {
    // A gateway of its own, so that no other subscription watches anything.
    const { gateway, simulator } = await gatewayPair();
    const id = await submitAs(gateway, simulator, 'alice');
    const jobId = Buffer.from(id, 'base64').toString('utf8').split(':')[1]!;
    const watched = () => gateway.internals.poller.stats().watchers;
    const before = watched();
    const client = wsAs(gateway, 'alice');
    cleanups.push(() => client.dispose());
    const feed = collect(client, JOBS_UPDATED, {});
    await until('the job watched', () => watched() > before);
    await until('the job DONE', () => doneIds(feed.events).has(id));
    await until('the watch released once DONE', () => watched() === before);
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    await client.dispose();
  });
});

describe('aiEditJobsUpdated sharing and limits', () => {
  it('shares one execution between the same subscriptions of one caller, and counts each against the limits', async () => {
    const { gateway } = await gatewayPair({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '1' });
    const one = wsAs(gateway, 'alice');
    const two = wsAs(gateway, 'alice');
    cleanups.push(
      () => one.dispose(),
      () => two.dispose(),
    );
    collect(one, JOBS_UPDATED, {});
    collect(two, JOBS_UPDATED, {});
    const ws = gateway.internals.sharedSubscriptions.webSocket;
    await until('both members', () => ws.memberCount === 2);
    expect(ws.streamCount).toBe(1);
    const over = await collect(one, JOBS_UPDATED, { status: ['DONE'] }).done;
    expect(refusalOf(over)?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
  });
});

describe.skipIf(!testRedisUrl)('aiEditJobsUpdated across two instances on one Redis', () => {
  it('subscribers on both instances see every change, whichever instance read the job', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobs-updated-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const simulator = await startSimulator({ stepMs: 250 });
    cleanups.push(() => simulator.close());
    const env = {
      CLAID_API_URL: simulator.url,
      DATABASE_URL: `sqlite:${join(dir, 'jobs.db')}`,
      REDIS_URL: testRedisUrl!,
      REDIS_KEY_PREFIX: freshKeyPrefix(),
      AUTH_MODE: 'apikey',
      GATEWAY_API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`,
      POLL_INTERVAL_MS: '40',
      BACKGROUND_POLL_INTERVAL_MS: '60000',
      JOB_RESCAN_INTERVAL_MS: '200',
    };
    const a = await startTestGateway({ env: { ...env, INSTANCE_ID: 'instance-a' } });
    cleanups.push(() => a.stop());
    const b = await startTestGateway({ env: { ...env, INSTANCE_ID: 'instance-b' } });
    cleanups.push(() => b.stop());

    const feeds = [a, b].map((gateway) => {
      const client = wsAs(gateway, 'alice');
      cleanups.push(() => client.dispose());
      return collect(client, JOBS_UPDATED, {});
    });
    for (const gateway of [a, b]) {
      await until('a subscription on each', () => gateway.internals.sharedSubscriptions.webSocket.streamCount === 1);
    }
    const ids = [await submitAs(a, simulator, 'alice'), await submitAs(b, simulator, 'alice')];
    await submitAs(a, simulator, 'bob');
    for (const feed of feeds) {
      await until('both jobs DONE on each instance', () => doneIds(feed.events).size === 2);
      expect(new Set(updates(feed.events).map((u) => u.id))).toEqual(new Set(ids));
    }
    // Each job was read upstream by one instance (its lease holder): the other streamed it from Redis.
    const readers = (jobId: string) =>
      [a, b].filter((gateway) => (gateway.internals.poller.stats().readsByJob.get(jobId) ?? 0) > 0).length;
    for (const id of ids) expect(readers(Buffer.from(id, 'base64').toString('utf8').split(':')[1]!)).toBe(1);
  });
});
