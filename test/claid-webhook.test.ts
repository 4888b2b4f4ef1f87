import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../src/domain/job.js';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { verifyWebhookSignature } from '../src/services/upstream/webhook-signature.js';
import { startSimulator } from '../src/simulator/server.js';
import { captureLogger, gql, SUBMIT, startTestGateway } from './support/gateway.js';
import { sleep, waitFor } from './support/poller-harness.js';
import { freshKeyPrefix, testRedisUrl } from './support/redis.js';
import { collect, UPDATED, wsClient } from './support/subscriptions.js';
import {
  type ClaidTaskJson,
  claidData,
  claidResult,
  claidTask,
  DEFAULT_TASK_REQUEST,
  startTestUpstream,
  type TestUpstream,
  taskPath,
} from './support/test-upstream.js';

// POST /webhooks/claid over real sockets: a fake Claid (test-upstream) answers the gateway's reads and stays at
// ACCEPTED unless a test moves it, so any other status a job takes came from a webhook.

const SECRET = 'whsec-test-0123456789';
const closers: (() => unknown)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const hexSig = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');
const base64Sig = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('base64');

function notification(id: number, patch: Partial<ClaidTaskJson> = {}): string {
  return JSON.stringify(claidData(claidTask({ id, ...patch })));
}

async function postWebhook(
  gateway: { url: string },
  body: string,
  headers: Record<string, string> = { 'x-claid-hmac-sha256': hexSig(body) },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gateway.url}/webhooks/claid`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function submit(gateway: Gateway): Promise<{ id: string; jobId: string; upstreamId: number }> {
  const res = await gql(gateway, SUBMIT, { input: structuredClone(DEFAULT_TASK_REQUEST) });
  expect(res.errors).toBeUndefined();
  const { id, upstreamId } = res.data!.submitAiEdit.job as { id: string; upstreamId: number };
  return { id, jobId: Buffer.from(id, 'base64').toString('utf8').split(':')[1]!, upstreamId };
}

async function stored(gateway: Gateway, jobId: string): Promise<Job> {
  const [job] = await gateway.internals.store.findByIds([jobId]);
  if (!job) throw new Error(`job ${jobId} not stored`);
  return job;
}

const readsOf = (up: TestUpstream, upstreamId: number) => up.requestsTo('GET', taskPath(upstreamId)).length;

describe('one gateway in front of a fake Claid', () => {
  let up: TestUpstream;
  let gateway: Gateway;
  let log: ReturnType<typeof captureLogger>;

  beforeAll(async () => {
    up = await startTestUpstream();
  });
  afterAll(async () => {
    await up.close();
  });
  beforeEach(async () => {
    up.reset();
    log = captureLogger('info');
    gateway = await startTestGateway({
      logger: log.logger,
      env: {
        CLAID_API_KEY: 'test-key',
        CLAID_API_URL: up.url,
        CLAID_WEBHOOK_SECRET: SECRET,
        WEBHOOK_MAX_BODY_BYTES: '4096',
        // Unwatched jobs are read at the background cadence: no read comes between a test's webhooks.
        BACKGROUND_POLL_INTERVAL_MS: '600000',
      },
    });
    closers.push(() => gateway.stop());
  });

  it('accepts hex, base64 and sha256= signatures, moving the job as a read would', async () => {
    const { jobId, upstreamId } = await submit(gateway);
    const steps: [string, (body: string) => string][] = [
      ['WAITING', (b) => hexSig(b).toUpperCase()],
      ['PROCESSING', (b) => base64Sig(b)],
      ['PAUSED', (b) => `sha256=${hexSig(b)}`],
      ['PROCESSING', (b) => `sha256=${base64Sig(b).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`],
    ];
    for (const [status, sign] of steps) {
      const body = notification(upstreamId, { status });
      const answer = await postWebhook(gateway, body, { 'x-claid-hmac-sha256': sign(body) });
      expect(answer).toEqual({ status: 200, body: { ok: true, outcome: 'applied' } });
      expect((await stored(gateway, jobId)).status).toBe(status);
    }
    const done = notification(upstreamId, { status: 'DONE', result: claidResult(2) });
    expect((await postWebhook(gateway, done)).status).toBe(200);
    const job = await stored(gateway, jobId);
    expect(job.status).toBe('DONE');
    expect(job.result?.outputObjects).toHaveLength(2);
    expect(job.history.map((h) => h.status)).toEqual([
      'QUEUED',
      'ACCEPTED',
      'WAITING',
      'PROCESSING',
      'PAUSED',
      'PROCESSING',
      'DONE',
    ]);
    // Pushed, not read: the only upstream call was the submit.
    expect(readsOf(up, upstreamId)).toBe(0);
  });

  it('refuses a missing, malformed, wrong-secret or other-body signature with 401 and changes nothing', async () => {
    const { jobId, upstreamId } = await submit(gateway);
    const before = await stored(gateway, jobId);
    const body = notification(upstreamId, { status: 'DONE', result: claidResult() });
    const refusals: Record<string, string>[] = [
      {},
      { 'x-claid-hmac-sha256': '' },
      { 'x-claid-hmac-sha256': 'not-a-signature' },
      { 'x-claid-hmac-sha256': hexSig(body, 'another-secret') },
      { 'x-claid-hmac-sha256': base64Sig(body, 'another-secret') },
      { 'x-claid-hmac-sha256': hexSig(`${body} `) },
      { 'x-claid-hmac-sha256': hexSig(body).slice(0, 63) },
      // The right signature under another header name.
      { 'x-signature': hexSig(body) },
    ];
    for (const headers of refusals) {
      const answer = await postWebhook(gateway, body, headers);
      expect(answer.status, JSON.stringify(headers)).toBe(401);
    }
    expect(await stored(gateway, jobId)).toEqual(before);
    expect(log.text()).not.toContain(SECRET);
  });

  it('refuses an oversized notification with 413 before reading it, and changes nothing', async () => {
    const { jobId, upstreamId } = await submit(gateway);
    const before = await stored(gateway, jobId);
    const body = notification(upstreamId, {
      status: 'DONE',
      result: claidResult(1, { tmp_url: `https://example.com/${'x'.repeat(5000)}` }),
    });
    expect(Buffer.byteLength(body)).toBeGreaterThan(4096);
    expect((await postWebhook(gateway, body)).status).toBe(413);

    // Without a content-length too (chunked), the limit holds.
    const res = await fetch(`${gateway.url}/webhooks/claid`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-claid-hmac-sha256': hexSig(body) },
      body: new Blob([body]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await stored(gateway, jobId)).toEqual(before);
  });

  it('answers 200 to a notification for a task it does not know, and logs it', async () => {
    const answer = await postWebhook(gateway, notification(987_654_321, { status: 'DONE', result: claidResult() }));
    expect(answer).toEqual({ status: 200, body: { ok: true, outcome: 'ignored' } });
    const line = log.lines.map((l) => JSON.parse(l)).find((l) => l.upstreamId === 987_654_321);
    expect(line).toMatchObject({ level: 30, msg: 'webhook for no unfinished job of this gateway' });
  });

  it('answers 400 to signed JSON that is not a Claid task, and changes nothing', async () => {
    const { jobId, upstreamId } = await submit(gateway);
    const before = await stored(gateway, jobId);
    for (const body of ['{"data"', '{"nodata":1}', JSON.stringify({ data: { id: upstreamId, status: 'FINISHED' } })]) {
      expect((await postWebhook(gateway, body)).status).toBe(400);
    }
    expect(await stored(gateway, jobId)).toEqual(before);
  });

  it('never moves a status backwards on repeated or late notifications', async () => {
    const { id, jobId, upstreamId } = await submit(gateway);
    const client = wsClient(gateway);
    closers.push(() => client.dispose());
    const sub = collect(client, UPDATED, { id });
    await waitFor(() => sub.events.length >= 1, 3000, 'the first event');
    const send = (status: string, patch: Partial<ClaidTaskJson> = {}) =>
      postWebhook(gateway, notification(upstreamId, { status, ...patch }));

    expect((await send('PROCESSING')).status).toBe(200);
    expect((await send('PROCESSING')).status).toBe(200);
    expect((await send('WAITING')).status).toBe(200);
    expect((await stored(gateway, jobId)).status).toBe('PROCESSING');
    expect((await send('DONE', { result: claidResult() })).status).toBe(200);
    // Late ones: the job is final and stays as it is.
    for (const status of ['PROCESSING', 'ERROR', 'DONE']) expect((await send(status)).status).toBe(200);

    const { events, error } = await sub.done;
    expect(error).toBeUndefined();
    expect(events.map((e) => e.data?.aiEditJobUpdated.status)).toEqual(['ACCEPTED', 'PROCESSING', 'DONE']);
    const job = await stored(gateway, jobId);
    expect(job.status).toBe('DONE');
    expect(job.result?.outputObjects).toHaveLength(1);
    expect(job.history.map((h) => h.status)).toEqual(['QUEUED', 'ACCEPTED', 'PROCESSING', 'DONE']);
  });

  it("ignores a notification whose echoed request is not the job's (the id was handed out again)", async () => {
    const { jobId, upstreamId } = await submit(gateway);
    const body = notification(upstreamId, {
      status: 'DONE',
      result: claidResult(),
      request: { ...DEFAULT_TASK_REQUEST, options: { prompt: 'somebody else' } },
    });
    expect((await postWebhook(gateway, body)).body).toEqual({ ok: true, outcome: 'ignored' });
    expect((await stored(gateway, jobId)).status).toBe('ACCEPTED');
  });

  it('is off (404) without CLAID_WEBHOOK_SECRET in front of a configured upstream', async () => {
    const plain = await startTestGateway({ env: { CLAID_API_KEY: 'test-key', CLAID_API_URL: up.url } });
    closers.push(() => plain.stop());
    const body = notification(1, { status: 'DONE' });
    expect((await postWebhook(plain, body, {})).status).toBe(404);
  });

  it('reads the signature from CLAID_WEBHOOK_SIGNATURE_HEADER when set', async () => {
    const custom = await startTestGateway({
      env: {
        CLAID_API_KEY: 'test-key',
        CLAID_API_URL: up.url,
        CLAID_WEBHOOK_SECRET: SECRET,
        CLAID_WEBHOOK_SIGNATURE_HEADER: 'X-Signature',
      },
    });
    closers.push(() => custom.stop());
    const { jobId, upstreamId } = await submit(custom);
    const body = notification(upstreamId, { status: 'PROCESSING' });
    expect((await postWebhook(custom, body)).status).toBe(401);
    expect((await postWebhook(custom, body, { 'x-signature': hexSig(body) })).status).toBe(200);
    expect((await stored(custom, jobId)).status).toBe('PROCESSING');
  });
});

describe('reconciliation polling', () => {
  it('reads a pushed job only at the background cadence, and so recovers a lost webhook', async () => {
    const up = await startTestUpstream();
    closers.push(() => up.close());
    const gateway = await startTestGateway({
      env: {
        CLAID_API_KEY: 'test-key',
        CLAID_API_URL: up.url,
        CLAID_WEBHOOK_SECRET: SECRET,
        POLL_INTERVAL_MS: '100',
        BACKGROUND_POLL_INTERVAL_MS: '1500',
      },
    });
    closers.push(() => gateway.stop());
    const { id, upstreamId } = await submit(gateway);
    const client = wsClient(gateway);
    closers.push(() => client.dispose());
    const sub = collect(client, UPDATED, { id });
    // Watched and not pushed yet: read at POLL_INTERVAL_MS.
    await waitFor(() => readsOf(up, upstreamId) >= 3, 3000, 'watched reads');

    up.setTask(upstreamId, { status: 'PROCESSING' });
    expect((await postWebhook(gateway, notification(upstreamId, { status: 'PROCESSING' }))).status).toBe(200);
    const readsAtPush = readsOf(up, upstreamId);
    // The DONE webhook is lost: only a reconciliation read can find it.
    up.setTask(upstreamId, { status: 'DONE', result: claidResult() });
    const pushedAt = Date.now();
    const { events, error } = await sub.done;
    expect(error).toBeUndefined();
    expect(events.at(-1)?.data?.aiEditJobUpdated.status).toBe('DONE');
    const tookMs = Date.now() - pushedAt;
    // About one background interval, and not 15 watched reads.
    expect(tookMs).toBeGreaterThan(1000);
    expect(tookMs).toBeLessThan(5000);
    expect(readsOf(up, upstreamId) - readsAtPush).toBeLessThanOrEqual(2);
  });
});

describe.skipIf(!testRedisUrl)('two gateways on one Redis', () => {
  it('a webhook on one reaches a subscriber on the other, whose lease holder stops eager reads', async () => {
    const up = await startTestUpstream();
    closers.push(() => up.close());
    const dir = mkdtempSync(join(tmpdir(), 'gateway-webhook-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = {
      CLAID_API_KEY: 'test-key',
      CLAID_API_URL: up.url,
      CLAID_WEBHOOK_SECRET: SECRET,
      DATABASE_URL: `sqlite:${join(dir, 'jobs.db')}`,
      REDIS_URL: testRedisUrl!,
      REDIS_KEY_PREFIX: freshKeyPrefix(),
      POLL_INTERVAL_MS: '100',
      BACKGROUND_POLL_INTERVAL_MS: '10000',
      JOB_RESCAN_INTERVAL_MS: '200',
    };
    const a = await startTestGateway({ env: { ...env, INSTANCE_ID: 'webhook-a' } });
    closers.push(() => a.stop());
    const b = await startTestGateway({ env: { ...env, INSTANCE_ID: 'webhook-b' } });
    closers.push(() => b.stop());

    const { id, upstreamId } = await submit(a);
    const client = wsClient(a);
    closers.push(() => client.dispose());
    const sub = collect(client, UPDATED, { id });
    await waitFor(() => readsOf(up, upstreamId) >= 2, 3000, 'watched reads');

    expect((await postWebhook(b, notification(upstreamId, { status: 'PROCESSING' }))).status).toBe(200);
    await waitFor(
      () => sub.events.some((e) => e.data?.aiEditJobUpdated.status === 'PROCESSING'),
      3000,
      'PROCESSING on A',
    );
    // Whoever holds the lease heard of the push: no read every 100 ms any more.
    await sleep(200);
    const readsAfterPush = readsOf(up, upstreamId);
    await sleep(1000);
    expect(readsOf(up, upstreamId) - readsAfterPush).toBeLessThanOrEqual(1);

    expect((await postWebhook(b, notification(upstreamId, { status: 'DONE', result: claidResult(3) }))).status).toBe(
      200,
    );
    const { events, error } = await sub.done;
    expect(error).toBeUndefined();
    const last = events.at(-1)!.data!.aiEditJobUpdated;
    expect(last.status).toBe('DONE');
    expect(last.result.outputObjects).toHaveLength(3);
  });
});

describe('the embedded simulator', () => {
  it('pushes to the gateway without setup: a watched job reaches DONE with (almost) no status reads', async () => {
    const gateway = await startTestGateway({ env: { SIMULATOR_STEP_MS: '600', POLL_INTERVAL_MS: '1000' } });
    closers.push(() => gateway.stop());
    const simulator = gateway.internals.simulator!;
    const res = await gql(gateway, SUBMIT, { input: { input: simulator.sampleUrl(), options: { prompt: 'a duck' } } });
    expect(res.errors).toBeUndefined();
    const { id, upstreamId } = res.data!.submitAiEdit.job as { id: string; upstreamId: number };
    const client = wsClient(gateway);
    closers.push(() => client.dispose());
    const { events, error } = await collect(client, UPDATED, { id }).done;
    expect(error).toBeUndefined();
    expect(events.at(-1)?.data?.aiEditJobUpdated.status).toBe('DONE');
    expect(events.at(-1)?.data?.aiEditJobUpdated.result.outputObjects.length).toBeGreaterThan(0);
    expect(simulator.stats.webhooks).toBeGreaterThanOrEqual(3);
    // DONE after about 1.8 s at a 1 s poll interval: polling alone would have read it at least twice.
    expect(simulator.stats.readsByTask.get(upstreamId) ?? 0).toBeLessThanOrEqual(1);
  });
});

describe('the simulator', () => {
  it('POSTs a signed status answer at each status change to SIMULATOR_WEBHOOK_URL', async () => {
    const received: { body: Buffer; signature: string | undefined }[] = [];
    const sink = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const header = req.headers['x-claid-hmac-sha256'];
        received.push({ body: Buffer.concat(chunks), signature: Array.isArray(header) ? header[0] : header });
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => sink.close(resolve)));
    const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`;
    const sim = await startSimulator({ stepMs: 100, webhook: { url: sinkUrl, secret: SECRET } });
    closers.push(() => sim.close());

    const submitted = await fetch(`${sim.url}/v1/image/ai-edit`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: sim.sampleUrl(), options: { prompt: 'a duck' } }),
    });
    const { data } = (await submitted.json()) as { data: { id: number } };
    await waitFor(() => received.some((r) => r.body.includes('"DONE"')), 10_000, 'the DONE notification');
    await sleep(150);

    const notes = received.map((r) => JSON.parse(r.body.toString('utf8')).data);
    expect(notes.map((n) => n.status)).toEqual(['WAITING', 'PROCESSING', 'DONE']);
    expect(notes.every((n) => n.id === data.id)).toBe(true);
    expect(notes.at(-1).result.output_objects.length).toBeGreaterThan(0);
    expect(received.every((r) => verifyWebhookSignature(r.body, r.signature, SECRET))).toBe(true);
    expect(sim.stats.webhooks).toBe(3);
    // Pushed, never read.
    expect(sim.stats.reads).toBe(0);
  });
});
