import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { gql, READ, SUBMIT, startTestGateway } from './support/gateway.js';
import { collect, collectSse, UPDATED, wsClient } from './support/subscriptions.js';
import { SUBMIT_PATH, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

// Two callers on one gateway: neither can see, list, subscribe to or reuse the idempotency keys of the other's jobs,
// and another caller's job looks exactly like an unknown one.

const INPUT = 'https://images.example.com/room.jpg';
const ALICE = { authorization: 'Bearer alice-key-0001' };
const BOB = { authorization: 'Bearer bob-key-000002' };
const UNKNOWN = Buffer.from('AiEditJob:00000000-0000-4000-8000-000000000000').toString('base64');
const NODE = /* GraphQL */ `query($id: ID!) { node(id: $id) { id ... on AiEditJob { status } } }`;
const LIST = /* GraphQL */ `query($status: [AiEditJobStatus!]) { aiEditJobs(first: 50, status: $status) { edges { node { id } } } }`;

let upstream: TestUpstream;
let gateway: Gateway;
const clients: { dispose(): unknown }[] = [];

beforeAll(async () => {
  upstream = await startTestUpstream({ apiKey: 'upstream-key' });
  gateway = await startTestGateway({
    env: {
      CLAID_API_KEY: 'upstream-key',
      CLAID_API_URL: upstream.url,
      POLL_INTERVAL_MS: '50',
      AUTH_MODE: 'apikey',
      GATEWAY_API_KEYS: 'alice:alice-key-0001,bob:bob-key-000002',
    },
  });
});
afterAll(async () => {
  for (const client of clients) await client.dispose();
  await gateway?.stop();
  await upstream?.close();
});
beforeEach(() => upstream.reset());

async function submitAs(headers: Record<string, string>, input: Record<string, unknown>) {
  return gql(gateway, SUBMIT, { input }, headers);
}

function ws(headers: Record<string, string>) {
  const client = wsClient(gateway, { authorization: headers.authorization });
  clients.push(client);
  return client;
}

async function wsErrors(headers: Record<string, string>, id: string) {
  const { error, events } = await collect(ws(headers), UPDATED, { id }).done;
  return (error as { message: string; extensions?: Record<string, unknown> }[] | undefined) ?? events[0]?.errors;
}

describe('ownership', () => {
  let aliceJob: { id: string; upstreamId: number };
  beforeAll(async () => {
    const res = await submitAs(ALICE, {
      input: INPUT,
      options: { prompt: 'add a duck' },
      idempotencyKey: 'shared-key',
    });
    expect(res.errors).toBeUndefined();
    aliceJob = res.data!.submitAiEdit.job;
  });

  it('aiEditJob: the owner reads it; another caller gets null, exactly like an unknown id', async () => {
    expect((await gql(gateway, READ, { id: aliceJob.id }, ALICE)).data?.aiEditJob?.id).toBe(aliceJob.id);
    const theirs = await gql(gateway, READ, { id: aliceJob.id }, BOB);
    const unknown = await gql(gateway, READ, { id: UNKNOWN }, BOB);
    expect(theirs).toEqual({ data: { aiEditJob: null } });
    expect(theirs).toEqual(unknown);
  });

  it('node: the same', async () => {
    expect((await gql(gateway, NODE, { id: aliceJob.id }, ALICE)).data?.node?.id).toBe(aliceJob.id);
    const theirs = await gql(gateway, NODE, { id: aliceJob.id }, BOB);
    expect(theirs).toEqual({ data: { node: null } });
    expect(theirs).toEqual(await gql(gateway, NODE, { id: UNKNOWN }, BOB));
  });

  it('aiEditJobs: each caller lists only their own jobs, with and without a status filter', async () => {
    const bobs = await submitAs(BOB, { input: INPUT, options: { prompt: 'add a goose' } });
    const bobJobId = bobs.data!.submitAiEdit.job.id as string;
    for (const status of [undefined, ['ACCEPTED']]) {
      const aliceList = (await gql(gateway, LIST, { status }, ALICE)).data!.aiEditJobs.edges.map(
        (e: { node: { id: string } }) => e.node.id,
      );
      const bobList = (await gql(gateway, LIST, { status }, BOB)).data!.aiEditJobs.edges.map(
        (e: { node: { id: string } }) => e.node.id,
      );
      expect(aliceList).toContain(aliceJob.id);
      expect(aliceList).not.toContain(bobJobId);
      expect(bobList).toEqual([bobJobId]);
    }
  });

  it('subscriptions over graphql-ws: another caller gets NOT_FOUND with the same message as an unknown id', async () => {
    const theirs = await wsErrors(BOB, aliceJob.id);
    const unknown = await wsErrors(BOB, UNKNOWN);
    expect(theirs?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(theirs?.[0]?.message).toBe(unknown?.[0]?.message);
    expect(theirs).toEqual(unknown);
    // The owner gets the job's state.
    const own = collect(ws(ALICE), UPDATED, { id: aliceJob.id });
    await expect.poll(() => own.events.length, { timeout: 5_000 }).toBeGreaterThan(0);
    expect(own.events[0]!.data!.aiEditJobUpdated.id).toBe(aliceJob.id);
  });

  it('subscriptions over SSE: the same', async () => {
    const theirs = await collectSse(gateway, UPDATED, { id: aliceJob.id }, BOB);
    const unknown = await collectSse(gateway, UPDATED, { id: UNKNOWN }, BOB);
    expect(theirs.status).toBe(200);
    expect(theirs.events[0]?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(theirs.events).toEqual(unknown.events);
  });

  it('a graphql-ws socket is its caller: another caller on their own socket still cannot see the job', async () => {
    // Same job id, bob's socket authenticated as bob: refused, while alice's socket is serving the same job.
    const errors = await wsErrors(BOB, aliceJob.id);
    expect(errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('idempotency keys are per caller: the same key from another caller makes their own job', async () => {
    const before = upstream.requestsTo('POST', SUBMIT_PATH).length;
    // Same key, same request: a new job for bob, not alice's.
    const same = await submitAs(BOB, { input: INPUT, options: { prompt: 'add a duck' }, idempotencyKey: 'shared-key' });
    expect(same.errors).toBeUndefined();
    expect(same.data!.submitAiEdit.job.id).not.toBe(aliceJob.id);
    // Same key, different request: not IDEMPOTENCY_KEY_REUSED for bob (the key is alice's, not his)...
    const other = await submitAs(BOB, {
      input: INPUT,
      options: { prompt: 'add a swan' },
      idempotencyKey: 'another-key',
    });
    expect(other.errors).toBeUndefined();
    const aliceOther = await submitAs(ALICE, {
      input: INPUT,
      options: { prompt: 'add a heron' },
      idempotencyKey: 'another-key',
    });
    expect(aliceOther.errors).toBeUndefined();
    expect(aliceOther.data!.submitAiEdit.job.id).not.toBe(other.data!.submitAiEdit.job.id);
    expect(upstream.requestsTo('POST', SUBMIT_PATH).length).toBe(before + 3);
    // ...and each caller's replay still returns their own first job without an upstream call.
    const aliceReplay = await submitAs(ALICE, {
      input: INPUT,
      options: { prompt: 'add a duck' },
      idempotencyKey: 'shared-key',
    });
    const bobReplay = await submitAs(BOB, {
      input: INPUT,
      options: { prompt: 'add a duck' },
      idempotencyKey: 'shared-key',
    });
    expect(aliceReplay.data!.submitAiEdit.job.id).toBe(aliceJob.id);
    expect(bobReplay.data!.submitAiEdit.job.id).toBe(same.data!.submitAiEdit.job.id);
    expect(upstream.requestsTo('POST', SUBMIT_PATH).length).toBe(before + 3);
    // A different request under alice's own key is refused for alice only.
    const reused = await submitAs(ALICE, {
      input: INPUT,
      options: { prompt: 'add a goose' },
      idempotencyKey: 'shared-key',
    });
    expect(reused.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('two callers racing on the same key each get their own job', async () => {
    const input = { input: INPUT, options: { prompt: 'add a crane' }, idempotencyKey: 'race-key' };
    const [a1, b1, a2, b2] = await Promise.all([
      submitAs(ALICE, input),
      submitAs(BOB, input),
      submitAs(ALICE, input),
      submitAs(BOB, input),
    ]);
    const ids = [a1, b1, a2, b2].map((r) => r.data!.submitAiEdit.job.id as string);
    expect(ids[0]).toBe(ids[2]);
    expect(ids[1]).toBe(ids[3]);
    expect(ids[0]).not.toBe(ids[1]);
    const owners = await gateway.internals.store.findByIds(
      ids.map((id) => Buffer.from(id, 'base64').toString().split(':')[1]!),
    );
    expect(owners.map((j) => j?.owner)).toEqual(['alice', 'bob', 'alice', 'bob']);
  });
});
