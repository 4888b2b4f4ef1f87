import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { type Simulator, startSimulator } from '../src/simulator/server.js';
import { gql, startTestGateway } from './support/gateway.js';
import { freePort, type GatewayProcess, spawnGateway } from './support/gateway-process.js';
import { sleep, waitFor } from './support/poller-harness.js';
import { PostgresTestDatabase, testPostgresUrl } from './support/postgres.js';
import { useTestScratch } from './support/scratch.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

// The webhook outbox survives kill -9 (SQLite file, gateway as its own process), and two instances on one
// PostgreSQL never both deliver one event.

const { cleanups, tempDir } = useTestScratch('caller-webhooks-');

const SUBMIT = `mutation($input: SubmitAiEditInput!) { submitAiEdit(input: $input) { job { id } } }`;
const DELIVERIES = `query($id: ID!) { aiEditJob(id: $id) { status webhookDeliveries { webhookId attempt status error } } }`;

interface Attempt {
  webhookId: string;
  attempt: number;
  status: number | null;
  error: string | null;
}
const attemptsOf = async (url: string, id: string): Promise<Attempt[]> =>
  (await gql({ url }, DELIVERIES, { id })).data?.aiEditJob?.webhookDeliveries ?? [];

async function simulator(): Promise<Simulator> {
  const sim = await startSimulator({ stepMs: 50 });
  cleanups.push(() => sim.close());
  return sim;
}

/** A gateway on `sim` and `databaseUrl`, polling and retrying webhooks fast, allowed to deliver to loopback. */
const gatewayEnv = (sim: Simulator, databaseUrl: string, retryBaseMs: number): Record<string, string> => ({
  CLAID_API_URL: sim.url,
  CLAID_API_KEY: sim.apiKey,
  DATABASE_URL: databaseUrl,
  POLL_INTERVAL_MS: '50',
  BACKGROUND_POLL_INTERVAL_MS: '100',
  POLL_STRATEGY: 'fixed',
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_BASE_MS: String(retryBaseMs),
});

async function spawn(sim: Simulator, databaseUrl: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const child = await spawnGateway({ ...gatewayEnv(sim, databaseUrl, 300), ...env });
  cleanups.push(() => child.kill('SIGKILL'));
  return child;
}

async function submitJobs(url: string, sim: Simulator, hook: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await gql({ url }, SUBMIT, {
      input: { input: sim.sampleUrl(), options: { prompt: `add duck ${i}` }, webhook: { url: hook } },
    });
    expect(res.errors).toBeUndefined();
    ids.push(res.data!.submitAiEdit.job.id);
  }
  return ids;
}

const tempDatabase = (): string => `sqlite:${join(tempDir(), 'gateway.db')}`;

describe('the webhook outbox across kill -9', () => {
  it('delivers what was pending at the kill after the restart, once each', async () => {
    const sim = await simulator();
    const databaseUrl = tempDatabase();
    const port = await freePort();
    const hook = `http://127.0.0.1:${port}/hook`;
    // The first gateway retries all along, so the kill may land inside an attempt, between its claim and its record.
    // Such a delivery is only tried again when its lease (6 x WEBHOOK_TIMEOUT_MS) ends: 60 s by default, longer
    // than this test waits, so the lease is cut to 6 s. Refused connections fail at once, well inside 1 s.
    const cutAttemptEnv = { WEBHOOK_TIMEOUT_MS: '1000' };
    const first = await spawn(sim, databaseUrl, cutAttemptEnv);
    await gql(first, 'mutation { rotateWebhookSecret }');
    // Nothing listens on the receiver's port yet: every attempt fails and the deliveries stay pending.
    const ids = await submitJobs(first.url, sim, hook, 3);
    await waitFor(
      async () => (await Promise.all(ids.map((id) => attemptsOf(first.url, id)))).every((a) => a.length >= 1),
      15_000,
      'a failed attempt at every job',
    );
    await first.kill('SIGKILL');

    const receiver: WebhookReceiver = await startWebhookReceiver(port);
    cleanups.push(() => receiver.close());
    const second = await spawn(sim, databaseUrl, cutAttemptEnv);
    // Retries back off from 300 ms, doubling: on a loaded machine the first job may have failed five or six times
    // before the last one failed once, so its next try can be 10-20 s after the restart. An attempt the kill cut
    // waits for its lease (6 s here) and then follows as one more attempt.
    await waitFor(() => receiver.received.length >= 3, 45_000, 'three deliveries after the restart');
    await sleep(1500);
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(3);
    for (const id of ids) {
      const attempts = await attemptsOf(second.url, id);
      expect(attempts.at(-1)).toMatchObject({ status: 204, error: null });
      expect(attempts.slice(0, -1).every((a) => a.status === null && a.error !== null)).toBe(true);
    }
  }, 100_000);

  it('an attempt cut by kill -9 is closed as such and tried again once its lease ends', async () => {
    const sim = await simulator();
    const databaseUrl = tempDatabase();
    const receiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    receiver.answer('hang');
    // Lease = 6 x timeout: 12 s. The kill comes while the first attempt hangs, well within its 2 s timeout.
    const env = { WEBHOOK_TIMEOUT_MS: '2000' };
    const first = await spawn(sim, databaseUrl, env);
    await gql(first, 'mutation { rotateWebhookSecret }');
    const [id] = await submitJobs(first.url, sim, receiver.url, 1);
    await waitFor(() => receiver.received.length >= 1, 15_000, 'the first attempt');
    await first.kill('SIGKILL');

    const second = await spawn(sim, databaseUrl, env);
    await waitFor(() => receiver.received.length >= 2, 30_000, 'the attempt after the lease ran out');
    await sleep(1000);
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]!.headers['webhook-id']).toBe(receiver.received[0]!.headers['webhook-id']);
    await waitFor(async () => (await attemptsOf(second.url, id!)).at(-1)?.status === 204, 5_000, 'the last attempt');
    const attempts = await attemptsOf(second.url, id!);
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, null],
      [2, 204],
    ]);
    expect(attempts[0]!.error).toMatch(/sender stopped/);
  }, 60_000);
});

describe.skipIf(!testPostgresUrl)('two instances on one PostgreSQL', () => {
  it('never both deliver one event', async () => {
    const db = new PostgresTestDatabase(testPostgresUrl!);
    cleanups.push(async () => {
      await db.dropSchemas();
      await db.end();
    });
    const schema = await db.createSchema();
    const databaseUrl = db.urlWithSearchPath(schema);
    const sim = await simulator();
    const env = gatewayEnv(sim, databaseUrl, 100);
    const gateways: Gateway[] = [];
    for (let i = 0; i < 2; i++) {
      const g = await startTestGateway({ env });
      cleanups.push(() => g.stop());
      gateways.push(g);
    }
    const [a, b] = gateways as [Gateway, Gateway];
    await gql(a, 'mutation { rotateWebhookSecret }');
    const port = await freePort();
    // Receiver down at first: the events pile up in the outbox, then both instances race for them.
    const ids = [
      ...(await submitJobs(a.url, sim, `http://127.0.0.1:${port}/hook`, 6)),
      ...(await submitJobs(b.url, sim, `http://127.0.0.1:${port}/hook`, 6)),
    ];
    await waitFor(
      async () => (await Promise.all(ids.map((id) => attemptsOf(a.url, id)))).every((x) => x.length >= 1),
      20_000,
      'a failed attempt at every job',
    );
    const receiver = await startWebhookReceiver(port);
    cleanups.push(() => receiver.close());
    await waitFor(() => receiver.received.length >= ids.length, 20_000, 'every event delivered');
    await sleep(1500);
    const byId = new Map<string, number>();
    for (const r of receiver.received) {
      const id = String(r.headers['webhook-id']);
      byId.set(id, (byId.get(id) ?? 0) + 1);
    }
    expect(byId.size).toBe(ids.length);
    expect([...byId.values()].every((n) => n === 1)).toBe(true);
    for (const id of ids) {
      const attempts = await attemptsOf(b.url, id);
      // One attempt at a time: attempt numbers 1..n with no repeat, only the last one answered.
      expect(attempts.map((x) => x.attempt)).toEqual(attempts.map((_, i) => i + 1));
      expect(attempts.filter((x) => x.status === 204)).toHaveLength(1);
    }
  }, 60_000);
});
