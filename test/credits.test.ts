import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { gql, READ, startTestGateway } from './support/gateway.js';
import { waitFor } from './support/poller-harness.js';
import { PostgresTestDatabase, testPostgresUrl } from './support/postgres.js';
import { collect, wsClient } from './support/subscriptions.js';
import { claidResult, SUBMIT_PATH, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

// MAX_CREDITS_PER_DAY: 2 credits per image asked for, counted in the store (so two instances agree), refused with
// RATE_LIMITED before any upstream call, given back when a job ends ERROR without an image; per-key overrides.

const INPUT = 'https://images.example.com/room.jpg';
const ALICE = { authorization: 'Bearer alice-key-0001' };
const BOB = { authorization: 'Bearer bob-key-000002' };
const SUBMIT = /* GraphQL */ `
  mutation Submit($input: SubmitAiEditInput!) { submitAiEdit(input: $input) { job { id upstreamId status } } }
`;

const cleanups: (() => unknown)[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function upstream(): Promise<TestUpstream> {
  const up = await startTestUpstream({ apiKey: 'upstream-key' });
  cleanups.push(() => up.close());
  return up;
}

function keysFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'credits-'));
  dirs.push(dir);
  const path = join(dir, 'keys');
  writeFileSync(path, text);
  return path;
}

async function gateway(up: TestUpstream, env: Record<string, string>): Promise<Gateway> {
  const g = await startTestGateway({
    env: {
      CLAID_API_KEY: 'upstream-key',
      CLAID_API_URL: up.url,
      POLL_INTERVAL_MS: '50',
      AUTH_MODE: 'apikey',
      GATEWAY_API_KEYS: 'alice:alice-key-0001',
      ...env,
    },
  });
  cleanups.push(() => g.stop());
  return g;
}

const submit = (g: Gateway, images: number, headers = ALICE) =>
  gql(
    g,
    SUBMIT,
    { input: { input: INPUT, options: { prompt: 'add a duck' }, output: { numberOfImages: images } } },
    headers,
  );

async function finalStatus(g: Gateway, id: string): Promise<string> {
  let status = '';
  await waitFor(
    async () => {
      const job = (await gql(g, READ, { id }, ALICE)).data?.aiEditJob;
      status = job?.status ?? '';
      return job?.isFinal === true;
    },
    10_000,
    'a final job',
  );
  return status;
}

const submitsUpstream = (up: TestUpstream) => up.requestsTo('POST', SUBMIT_PATH).length;

function expectCreditRefusal(res: Awaited<ReturnType<typeof gql>>) {
  expect(res.data ?? null).toBeNull();
  const extensions = res.errors?.[0]?.extensions;
  expect(extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_CREDITS_PER_DAY' });
  const resetAt = new Date(extensions!.resetAt as string);
  expect(resetAt.getUTCHours()).toBe(0);
  expect(resetAt.getTime()).toBeGreaterThan(Date.now());
  expect(resetAt.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
  const untilReset = (resetAt.getTime() - Date.now()) / 1000;
  expect(Math.abs((extensions!.retryAfterSeconds as number) - untilReset)).toBeLessThanOrEqual(2);
}

describe('MAX_CREDITS_PER_DAY', () => {
  it('refuses, before any upstream call and without storing a job, what the day’s credits do not cover', async () => {
    const up = await upstream();
    const g = await gateway(up, { MAX_CREDITS_PER_DAY: '10' });
    expect((await submit(g, 4)).errors).toBeUndefined(); // 8 credits
    const refused = await submit(g, 2); // 4 more: 12 > 10
    expectCreditRefusal(refused);
    expect(submitsUpstream(up)).toBe(1);
    const listed = await gql(g, '{ aiEditJobs(first: 10) { edges { node { id } } } }', {}, ALICE);
    expect(listed.data!.aiEditJobs.edges).toHaveLength(1);
    // What is left still fits.
    expect((await submit(g, 1)).errors).toBeUndefined();
    expectCreditRefusal(await submit(g, 1));
    expect(submitsUpstream(up)).toBe(2);
  });

  it('gives the credits back when the job ends ERROR without an image, not when it ends DONE', async () => {
    const up = await upstream();
    const g = await gateway(up, { MAX_CREDITS_PER_DAY: '4' });
    const failed = await submit(g, 2);
    expectCreditRefusal(await submit(g, 1));
    const { id, upstreamId } = failed.data!.submitAiEdit.job;
    up.setTask(upstreamId, {
      status: 'ERROR',
      errors: [{ error: 'generation failed', created_at: new Date().toISOString() }],
    });
    expect(await finalStatus(g, id)).toBe('ERROR');
    const done = await submit(g, 2);
    expect(done.errors).toBeUndefined();
    up.setTask(done.data!.submitAiEdit.job.upstreamId, { status: 'DONE', result: claidResult(2) });
    expect(await finalStatus(g, done.data!.submitAiEdit.job.id)).toBe('DONE');
    expectCreditRefusal(await submit(g, 1));
    expect((await gql(g, READ, { id }, ALICE)).data!.aiEditJob.status).toBe('ERROR');
  });

  it('takes a caller’s own limit from its key in the keys file', async () => {
    const up = await upstream();
    const file = keysFile('alice:alice-key-0001 maxCreditsPerDay=2\nbob:bob-key-000002\n');
    const g = await gateway(up, { GATEWAY_API_KEYS: '', GATEWAY_API_KEYS_FILE: file, MAX_CREDITS_PER_DAY: '6' });
    expect((await submit(g, 1, ALICE)).errors).toBeUndefined();
    expectCreditRefusal(await submit(g, 1, ALICE));
    expect((await submit(g, 3, BOB)).errors).toBeUndefined();
    expectCreditRefusal(await submit(g, 1, BOB));
  });
});

describe.skipIf(!testPostgresUrl)('MAX_CREDITS_PER_DAY on two instances sharing PostgreSQL', () => {
  it('refuses on one instance what was spent on the other', async () => {
    const db = new PostgresTestDatabase(testPostgresUrl!);
    cleanups.push(async () => {
      await db.dropSchemas();
      await db.end();
    });
    const databaseUrl = db.urlWithSearchPath(await db.createSchema());
    const up = await upstream();
    const env = { DATABASE_URL: databaseUrl, MAX_CREDITS_PER_DAY: '8' };
    const a = await gateway(up, env);
    const b = await gateway(up, env);
    expect((await submit(a, 3)).errors).toBeUndefined(); // 6 of 8 spent on A
    expectCreditRefusal(await submit(b, 2));
    expect((await submit(b, 1)).errors).toBeUndefined();
    expectCreditRefusal(await submit(a, 1));
    expect(submitsUpstream(up)).toBe(2);
  });
});

const VIEWER = /* GraphQL */ `
  query {
    viewer {
      id authenticatedBy hasWebhookSecret
      limits { maxSubmitsPerMinute maxUnfinishedJobs maxSubscriptionsPerConnection maxSubscriptionsPerCaller maxCreditsPerDay creditsResetAt }
      usage { creditsToday creditsLeftToday submitsThisMinute submitsResetAt unfinishedJobs openSubscriptions }
    }
  }
`;

describe('Query.viewer', () => {
  it('shows the limits and usage the limits refuse by', async () => {
    const up = await upstream();
    const g = await gateway(up, {
      MAX_CREDITS_PER_DAY: '6',
      MAX_SUBMITS_PER_MINUTE: '4',
      MAX_UNFINISHED_JOBS: '7',
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '3',
      MAX_SUBSCRIPTIONS_PER_CALLER: '9',
    });
    const view = async () => {
      const res = await gql(g, VIEWER, {}, ALICE);
      expect(res.errors).toBeUndefined();
      return res.data!.viewer;
    };
    const before = await view();
    expect(before).toMatchObject({
      id: 'alice',
      authenticatedBy: 'API_KEY',
      hasWebhookSecret: false,
      limits: {
        maxSubmitsPerMinute: 4,
        maxUnfinishedJobs: 7,
        maxSubscriptionsPerConnection: 3,
        maxSubscriptionsPerCaller: 9,
        maxCreditsPerDay: 6,
      },
      usage: { creditsToday: 0, creditsLeftToday: 6, submitsThisMinute: 0, submitsResetAt: null, unfinishedJobs: 0 },
    });
    expect(new Date(before.limits.creditsResetAt).getUTCHours()).toBe(0);

    expect((await submit(g, 1)).errors).toBeUndefined();
    expect((await submit(g, 1)).errors).toBeUndefined();
    const spent = await view();
    expect(spent.usage).toMatchObject({
      creditsToday: 4,
      creditsLeftToday: 2,
      submitsThisMinute: 2,
      unfinishedJobs: 2,
    });
    expect(new Date(spent.usage.submitsResetAt).getTime()).toBeGreaterThan(Date.now());
    // 2 credits left: 2 images (4) are refused, 1 image (2) goes through, then none is left.
    expectCreditRefusal(await submit(g, 2));
    expect((await submit(g, 1)).errors).toBeUndefined();
    expect((await view()).usage).toMatchObject({ creditsToday: 6, creditsLeftToday: 0, submitsThisMinute: 3 });
    expectCreditRefusal(await submit(g, 1));
    // A refused submit costs nothing: the counts are where they were.
    expect((await view()).usage).toMatchObject({ creditsToday: 6, submitsThisMinute: 3, unfinishedJobs: 3 });
    // An open subscription counts, and is given back when it ends.
    const jobId = (await gql(g, '{ aiEditJobs(first: 1) { edges { node { id } } } }', {}, ALICE)).data!.aiEditJobs
      .edges[0].node.id;
    const client = wsClient(g, { authorization: ALICE.authorization });
    const watching = collect(client, 'subscription($id: ID!) { aiEditJobUpdated(id: $id) { id } }', { id: jobId });
    await waitFor(() => watching.events.length >= 1, 5_000, 'the first event');
    expect((await view()).usage.openSubscriptions).toBe(1);
    await client.dispose();
    await waitFor(async () => (await view()).usage.openSubscriptions === 0, 5_000, 'the slot given back');
    // Another caller's numbers are its own.
    const bob = await startTestGateway({
      env: { CLAID_API_KEY: 'upstream-key', CLAID_API_URL: up.url, AUTH_MODE: 'none' },
    });
    cleanups.push(() => bob.stop());
    expect((await gql(bob, VIEWER)).data!.viewer).toMatchObject({ id: 'anonymous', authenticatedBy: 'NONE' });
  });
});
