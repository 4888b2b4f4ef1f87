import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { WEBHOOK_JOB_SELECTION } from '../src/schema/webhook-payload.js';
import { gql, readUntilFinal, startTestGateway } from './support/gateway.js';
import { sleep, waitFor } from './support/poller-harness.js';
import { collect, wsClient } from './support/subscriptions.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

// Callers' webhooks end to end: a real receiver on loopback (WEBHOOK_ALLOW_PRIVATE=true) checks every POST's
// Standard Webhooks signature with the standardwebhooks package; retries, 410, events and the address checks.

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function gateway(env: Record<string, string> = {}): Promise<Gateway> {
  const g = await startTestGateway({ env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '200', ...env } });
  cleanups.push(() => g.stop());
  return g;
}

async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver();
  cleanups.push(() => r.close());
  return r;
}

const SUBMIT = /* GraphQL */ `
  mutation Submit($input: SubmitAiEditInput!) { submitAiEdit(input: $input) { job { id status } } }
`;
const ROTATE = /* GraphQL */ `mutation { rotateWebhookSecret }`;
const DELIVERIES = /* GraphQL */ `
  query Deliveries($id: ID!) { aiEditJob(id: $id) { status webhookDeliveries { webhookId event attempt at status error } } }
`;

async function rotate(g: Gateway): Promise<string> {
  const res = await gql<{ rotateWebhookSecret: string }>(g, ROTATE);
  expect(res.errors).toBeUndefined();
  return res.data!.rotateWebhookSecret;
}

async function submitWith(g: Gateway, webhook: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return gql<{ submitAiEdit: { job: { id: string } } }>(g, SUBMIT, {
    input: { input: g.internals.simulator!.sampleUrl(), options: { prompt: 'add a duck' }, webhook, ...extra },
  });
}

async function deliveries(g: Gateway, id: string) {
  const res = await gql(g, DELIVERIES, { id });
  expect(res.errors).toBeUndefined();
  return res.data!.aiEditJob.webhookDeliveries as {
    webhookId: string;
    event: string;
    attempt: number;
    at: string;
    status: number | null;
    error: string | null;
  }[];
}

describe('callers’ webhooks', () => {
  it('POSTs the final job, signed per Standard Webhooks, with the body the subscription sends', async () => {
    const g = await gateway();
    const r = await receiver();
    const secret = await rotate(g);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const submitted = await submitWith(g, { url: r.url });
    expect(submitted.errors).toBeUndefined();
    const id = submitted.data!.submitAiEdit.job.id;
    const client = wsClient(g);
    cleanups.push(() => client.dispose());
    const sub = collect(client, `subscription($id: ID!) { aiEditJobUpdated(id: $id) { ${WEBHOOK_JOB_SELECTION} } }`, {
      id,
    });
    await readUntilFinal(g, id);
    await waitFor(() => r.received.length >= 1, 10_000, 'the webhook');
    await sleep(300);
    // Only the default events: the final one, once.
    expect(r.received).toHaveLength(1);
    const [hook] = r.received;
    const verified = new Webhook(secret).verify(hook!.body, hook!.headers as Record<string, string>) as Record<
      string,
      any
    >;
    expect(hook!.headers['webhook-id']).toMatch(/^msg_/);
    expect(verified.type).toBe('aiEditJob.DONE');
    const { events } = await sub.done;
    const finalEvent = events.at(-1)!.data!.aiEditJobUpdated;
    expect(verified.data.aiEditJobUpdated).toEqual(finalEvent);
    expect(verified.data.aiEditJobUpdated.status).toBe('DONE');
    // A forged signature is refused by the same verifier: the check above is not vacuous.
    expect(() => new Webhook(secret).verify(`${hook!.body} `, hook!.headers as Record<string, string>)).toThrow();

    await waitFor(async () => (await deliveries(g, id))[0]?.status === 204, 5_000, 'the attempt recorded');
    const [attempt] = await deliveries(g, id);
    expect(attempt).toMatchObject({ webhookId: hook!.headers['webhook-id'], event: 'DONE', attempt: 1, error: null });
  });

  it('retries a receiver that fails twice: exactly three attempts, same webhook-id, growing gaps', async () => {
    const g = await gateway();
    const r = await receiver();
    await rotate(g);
    r.answer(500, 503);
    const id = (await submitWith(g, { url: r.url })).data!.submitAiEdit.job.id;
    await waitFor(() => r.received.length >= 3, 15_000, 'three attempts');
    await sleep(1500);
    expect(r.received).toHaveLength(3);
    const ids = new Set(r.received.map((h) => h.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const [a, b, c] = r.received.map((h) => h.at) as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(150);
    expect(c - b).toBeGreaterThan(b - a);
    await waitFor(async () => (await deliveries(g, id)).at(-1)?.status === 204, 5_000, 'the last attempt recorded');
    const attempts = await deliveries(g, id);
    expect(attempts.map((x) => [x.attempt, x.status, x.error])).toEqual([
      [1, 500, 'HTTP 500'],
      [2, 503, 'HTTP 503'],
      [3, 204, null],
    ]);
  });

  it('stops at 410 Gone, and calls for PROCESSING when asked', async () => {
    const g = await gateway();
    const r = await receiver();
    await rotate(g);
    r.fallback = 410;
    const id = (await submitWith(g, { url: r.url, events: ['PROCESSING', 'DONE'] })).data!.submitAiEdit.job.id;
    await readUntilFinal(g, id);
    await waitFor(() => r.received.length >= 2, 10_000, 'both events');
    await sleep(1000);
    const types = r.received.map((h) => JSON.parse(h.body).type);
    expect(types).toEqual(['aiEditJob.PROCESSING', 'aiEditJob.DONE']);
    const processing = JSON.parse(r.received[0]!.body).data.aiEditJobUpdated;
    // The PROCESSING event carries the job as it was then, not as it is by the time it is sent.
    expect(processing.status).toBe('PROCESSING');
    expect(processing.result).toBeNull();
    const attempts = await deliveries(g, id);
    expect(attempts.map((x) => [x.event, x.attempt, x.status])).toEqual([
      ['PROCESSING', 1, 410],
      ['DONE', 1, 410],
    ]);
  });

  it('refuses a webhook without a secret, a bad event, and (without WEBHOOK_ALLOW_PRIVATE) private literal addresses', async () => {
    const g = await gateway({ WEBHOOK_ALLOW_PRIVATE: 'false' });
    const noSecret = await submitWith(g, { url: 'https://hooks.example.com/x' });
    expect(noSecret.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.webhook' });
    await rotate(g);
    for (const url of [
      'http://hooks.example.com/x',
      'https://127.0.0.1/x',
      'https://10.1.2.3/x',
      'https://192.168.0.10/x',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://[fd00:ec2::254]/x',
      'https://user:pw@hooks.example.com/x',
      'not a url',
    ]) {
      const refused = await submitWith(g, { url });
      expect(refused.errors?.[0]?.extensions, url).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.webhook.url',
      });
    }
    const badEvent = await submitWith(g, { url: 'https://hooks.example.com/x', events: ['WAITING'] });
    expect(badEvent.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.webhook.events' });
    // Nothing was stored (so nothing was sent upstream either).
    const listed = await gql(g, '{ aiEditJobs(first: 10) { edges { node { id } } } }');
    expect(listed.data!.aiEditJobs.edges).toEqual([]);
    const ok = await submitWith(g, { url: 'https://hooks.example.com/x' });
    expect(ok.errors).toBeUndefined();
  });

  it('refuses at delivery time a host name that resolves to loopback (localhost), and sends nothing', async () => {
    const g = await gateway({ WEBHOOK_ALLOW_PRIVATE: 'false' });
    const r = await receiver();
    await rotate(g);
    const submitted = await submitWith(g, { url: `https://localhost:${r.port}/hook` });
    expect(submitted.errors).toBeUndefined();
    const id = submitted.data!.submitAiEdit.job.id;
    await readUntilFinal(g, id);
    await waitFor(
      async () => (await deliveries(g, id)).some((x) => x.error !== null),
      10_000,
      `a refused attempt ${JSON.stringify(await gql(g, DELIVERIES, { id }))}`,
    );
    const [attempt] = await deliveries(g, id);
    expect(attempt!.status).toBeNull();
    expect(attempt!.error).toMatch(/loopback, private, link-local or metadata/);
    expect(r.received).toHaveLength(0);
  });
});
