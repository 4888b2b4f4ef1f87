import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../src/domain/job.js';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { createJobStore } from '../src/services/store/job-store-factory.js';
import { type Simulator, startSimulator } from '../src/simulator/server.js';
import { gql, READ, startTestGateway } from './support/gateway.js';
import { waitFor } from './support/poller-harness.js';
import { PostgresTestDatabase, testPostgresUrl } from './support/postgres.js';
import { freshKeyPrefix, testRedisUrl } from './support/redis.js';
import { collect, wsClient } from './support/subscriptions.js';

// Issue 13, part 3: submits within the account's generation budget, never lost. The simulator enforces Claid's
// generation limit (1/s), so a gateway that sent two submits within a second would draw a 429.

const SUBMIT = /* GraphQL */ `
  mutation ($input: SubmitAiEditInput!) {
    submitAiEdit(input: $input) {
      job { id status upstreamId queuePosition createdAt request { options { prompt } } }
    }
  }
`;
const UPDATED = /* GraphQL */ `
  subscription ($id: ID!) { aiEditJobUpdated(id: $id) { id status upstreamId queuePosition isFinal } }
`;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function simulatorWithGenerationLimit(stepMs = 100): Promise<Simulator> {
  const simulator = await startSimulator({
    stepMs,
    rateLimit: { perSecond: 4, perMinute: 120 },
    generationLimit: { perSecond: 1, perMinute: 60 },
  });
  cleanups.push(() => simulator.close());
  return simulator;
}

async function gatewayOn(simulator: Simulator, env: Record<string, string> = {}): Promise<Gateway> {
  const gateway = await startTestGateway({
    env: {
      CLAID_API_URL: simulator.url,
      CLAID_API_KEY: simulator.apiKey,
      // Claid's own limits, as the simulator enforces them.
      UPSTREAM_MAX_RPS: '4',
      UPSTREAM_MAX_RPM: '120',
      UPSTREAM_MAX_SUBMITS_PER_SECOND: '1',
      UPSTREAM_MAX_SUBMITS_PER_MINUTE: '60',
      POLL_INTERVAL_MS: '200',
      ...env,
    },
  });
  cleanups.push(() => gateway.stop());
  return gateway;
}

const input = (simulator: Simulator, prompt: string, idempotencyKey?: string) => ({
  input: simulator.sampleUrl(),
  options: { prompt },
  ...(idempotencyKey ? { idempotencyKey } : {}),
});

async function readJob(gateway: Gateway, id: string): Promise<Record<string, any>> {
  const res = await gql(gateway, READ, { id });
  expect(res.errors).toBeUndefined();
  return res.data!.aiEditJob;
}

describe('a burst of submits against a 1/s generation limit', () => {
  it('queues what cannot go at once, gives the caller no 429, sends in submit order and finishes every job', async () => {
    const simulator = await simulatorWithGenerationLimit();
    const gateway = await gatewayOn(simulator);
    const BURST = 6;
    const jobs: Record<string, any>[] = [];
    for (let i = 0; i < BURST; i++) {
      const res = await gql(gateway, SUBMIT, { input: input(simulator, `burst ${i}`) });
      expect(res.errors).toBeUndefined();
      jobs.push(res.data!.submitAiEdit.job);
    }
    // The first goes at once; the rest come back at once, QUEUED, numbered in submit order.
    expect(jobs[0]).toMatchObject({ status: 'ACCEPTED', queuePosition: null });
    const queued = jobs.filter((job) => job.status === 'QUEUED');
    expect(queued.length).toBeGreaterThanOrEqual(BURST - 2);
    for (const job of queued) expect(job.upstreamId).toBeNull();
    // Each waits behind the ones before it (some may have been sent meanwhile): positions never go down.
    const positions = queued.map((job) => job.queuePosition as number);
    expect(positions[0]).toBeGreaterThanOrEqual(1);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);

    // A subscriber of the last queued job hears it leave the queue, then run to DONE.
    const client = wsClient(gateway);
    cleanups.push(async () => client.dispose());
    const last = queued[queued.length - 1]!;
    const sub = collect(client, UPDATED, { id: last.id });

    const finals = await Promise.all(
      jobs.map(async (job) => {
        let now = await readJob(gateway, job.id);
        for (const deadline = Date.now() + 30_000; !now.isFinal && Date.now() < deadline; ) {
          await new Promise((r) => setTimeout(r, 200));
          now = await readJob(gateway, job.id);
        }
        return now;
      }),
    );
    expect(finals.map((job) => job.status)).toEqual(Array(BURST).fill('DONE'));
    // Each job taken exactly once, in submit order, and not one 429 on the way: the reads of the six jobs (every
    // 200 ms each, more than the account's 4/s) took the tokens between the submits, and each submit's generation
    // was taken when its token was granted, so no two submits reached the simulator within one of its seconds.
    const upstreamIds = finals.map((job) => job.upstreamId as number);
    expect(new Set(upstreamIds).size).toBe(BURST);
    expect([...upstreamIds].sort((a, b) => a - b)).toEqual(upstreamIds);
    expect(Object.fromEntries(simulator.stats.rateLimited)).toEqual({});
    expect(simulator.stats.submits).toBe(BURST);
    expect(gateway.internals.budget.stats().rateLimited).toBe(0);

    const { events } = await sub.done;
    const seen = events.map((e) => e.data!.aiEditJobUpdated);
    expect(seen[0]).toMatchObject({ status: 'QUEUED', upstreamId: null, queuePosition: expect.any(Number) });
    const statuses = seen.map((job) => job.status);
    expect(statuses[statuses.length - 1]).toBe('DONE');
    expect(statuses.indexOf('ACCEPTED')).toBeGreaterThan(0);
    for (const job of seen.slice(statuses.indexOf('ACCEPTED'))) {
      expect(job.queuePosition).toBeNull();
      expect(job.upstreamId).toBe(finals.find((f) => f.id === last.id)!.upstreamId);
    }
  }, 60_000);
});

describe('queued jobs and the per-caller limits', () => {
  it('MAX_UNFINISHED_JOBS counts queued jobs; a repeated idempotency key returns the queued job', async () => {
    // Tasks that take long, and one generation a minute: the first is sent, the next two wait.
    const simulator = await simulatorWithGenerationLimit(10_000);
    const gateway = await gatewayOn(simulator, { UPSTREAM_MAX_SUBMITS_PER_MINUTE: '1', MAX_UNFINISHED_JOBS: '3' });
    const answers = [];
    for (let i = 0; i < 3; i++)
      answers.push(await gql(gateway, SUBMIT, { input: input(simulator, `cap ${i}`, `k${i}`) }));
    expect(answers.map((res) => res.data?.submitAiEdit.job.status)).toEqual(['ACCEPTED', 'QUEUED', 'QUEUED']);
    expect(answers.map((res) => res.data?.submitAiEdit.job.queuePosition)).toEqual([null, 1, 2]);

    const refused = await gql(gateway, SUBMIT, { input: input(simulator, 'cap 3') });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_UNFINISHED_JOBS' });

    const again = await gql(gateway, SUBMIT, { input: input(simulator, 'cap 2', 'k2') });
    expect(again.errors).toBeUndefined();
    expect(again.data!.submitAiEdit.job).toMatchObject({
      id: answers[2]!.data!.submitAiEdit.job.id,
      status: 'QUEUED',
      queuePosition: 2,
    });
    // Neither the refusal nor the replay reached Claid; nothing is stored for the refused one.
    expect(simulator.stats.submits).toBe(1);
    expect(await gateway.internals.store.countWaiting()).toBe(2);
  }, 30_000);

  it('the per-caller submit limit refuses before anything is stored', async () => {
    const simulator = await simulatorWithGenerationLimit(10_000);
    const gateway = await gatewayOn(simulator, { UPSTREAM_MAX_SUBMITS_PER_MINUTE: '1', MAX_SUBMITS_PER_MINUTE: '2' });
    await gql(gateway, SUBMIT, { input: input(simulator, 'limit 0') });
    await gql(gateway, SUBMIT, { input: input(simulator, 'limit 1') });
    const refused = await gql(gateway, SUBMIT, { input: input(simulator, 'limit 2') });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_SUBMITS_PER_MINUTE' });
    const listed = await gql(gateway, '{ aiEditJobs(first: 10) { edges { node { status } } } }');
    expect(listed.data!.aiEditJobs.edges.map((e: any) => e.node.status)).toEqual(['QUEUED', 'ACCEPTED']);
  }, 30_000);
});

describe('two instances on one PostgreSQL', () => {
  const pg = testPostgresUrl ? new PostgresTestDatabase(testPostgresUrl) : undefined;
  afterAll(async () => {
    await pg?.dropSchemas();
    await pg?.end();
  });

  it.skipIf(!pg || !testRedisUrl)(
    'never send one queued job twice',
    async () => {
      const simulator = await startSimulator({ stepMs: 50 });
      cleanups.push(() => simulator.close());
      const schema = await pg!.createSchema();
      const databaseUrl = pg!.urlWithSearchPath(schema);
      // Jobs a previous run left waiting, for both instances to take at once.
      const store = await createJobStore(databaseUrl);
      cleanups.push(() => store.close());
      const JOBS = 30;
      const waiting: Job[] = [];
      for (let i = 0; i < JOBS; i++) {
        waiting.push(
          await store.insertQueued({
            owner: 'anonymous',
            request: { input: simulator.sampleUrl(), options: { prompt: `shared ${i}` } },
            requestHash: `h${i}`,
            idempotencyKey: null,
            at: new Date(Date.now() - 60_000 + i),
            sendStartedAt: null,
          }),
        );
      }
      const env = {
        DATABASE_URL: databaseUrl,
        REDIS_URL: testRedisUrl!,
        REDIS_KEY_PREFIX: freshKeyPrefix(),
        UPSTREAM_MAX_RPS: '1000',
        UPSTREAM_MAX_RPM: '60000',
        UPSTREAM_MAX_SUBMITS_PER_SECOND: '1000',
        UPSTREAM_MAX_SUBMITS_PER_MINUTE: '60000',
      };
      await Promise.all([gatewayOn(simulator, env), gatewayOn(simulator, env)]);
      await waitFor(async () => (await store.countWaiting()) === 0, 20_000, 'the queue to empty');
      await waitFor(
        async () => (await store.findByIds(waiting.map((j) => j.id))).every((j) => j?.upstreamId !== null),
        20_000,
        'every queued job to be sent',
      );
      expect(simulator.stats.submits).toBe(JOBS);
      const sent = await store.findByIds(waiting.map((j) => j.id));
      expect(new Set(sent.map((j) => j!.upstreamId)).size).toBe(JOBS);
    },
    60_000,
  );
});
