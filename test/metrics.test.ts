import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { gql, READ, SUBMIT, startTestGateway } from './support/gateway.js';
import { collect, UPDATED, wsClient } from './support/subscriptions.js';
import {
  claidData,
  claidErrorBody,
  claidResult,
  claidTask,
  startTestUpstream,
  type TestUpstream,
} from './support/test-upstream.js';

// /metrics scraped before and after a known sequence (a submit, a subscription to DONE over graphql-ws, a bad
// input, an upstream 5xx): the series that should move, move by exactly that much.

const TOKEN = 'metrics-token-0123456789';
const INPUT = 'https://images.example.com/private/cat.png';
const PROMPT = 'turn the secret cat into a duck';
const WEBHOOK_SECRET = 'webhook-secret-0123456789abcdef';

let up: TestUpstream;
let gateway: Gateway;

beforeAll(async () => {
  up = await startTestUpstream();
  gateway = await startTestGateway({
    env: {
      CLAID_API_KEY: 'claid-key-never-in-labels',
      CLAID_API_URL: up.url,
      POLL_INTERVAL_MS: '40',
      UPSTREAM_RETRIES: '0',
      METRICS_PORT: '0',
      METRICS_TOKEN: TOKEN,
      CLAID_WEBHOOK_SECRET: WEBHOOK_SECRET,
    },
  });
});
afterAll(async () => {
  await gateway?.stop();
  await up?.close();
});

type Samples = Map<string, number>;

/** `name{a="1",b="2"}` -> value, labels in the order prom-client writes them. */
function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function scrape(): Promise<{ text: string; samples: Samples }> {
  const res = await fetch(`${gateway.internals.metricsUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parse(text) };
}

const delta = (before: Samples, after: Samples, key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

describe('GET /metrics', () => {
  it('counts a submit, a graphql-ws subscription to DONE, a bad input and an upstream 5xx', async () => {
    const before = (await scrape()).samples;

    const submitted = await gql(gateway, SUBMIT, { input: { input: INPUT, options: { prompt: PROMPT } } });
    expect(submitted.errors).toBeUndefined();
    const job = submitted.data!.submitAiEdit.job;

    const client = wsClient(gateway);
    const updates = collect(client, UPDATED, { id: job.id });
    await until(() => updates.events.length > 0);
    const during = (await scrape()).samples;
    expect(during.get('gateway_subscriptions_open{transport="websocket"}')).toBe(1);
    expect(during.get('gateway_websocket_connections')).toBe(1);
    expect(during.get('gateway_subscription_streams{transport="websocket"}')).toBe(1);
    up.setTask(job.upstreamId, { status: 'DONE', result: claidResult() });
    const { events, error } = await updates.done;
    expect(error).toBeUndefined();
    expect(events.at(-1)?.data?.aiEditJobUpdated.status).toBe('DONE');
    await client.dispose();
    // A final job read twice: the first answer is kept, the second served from it.
    for (const _ of [1, 2]) expect((await gql(gateway, READ, { id: job.id })).data?.aiEditJob.status).toBe('DONE');

    const bad = await gql(gateway, SUBMIT, { input: { input: 'not a url', options: { prompt: PROMPT } } });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    up.enqueue({ status: 503, body: claidErrorBody('down for maintenance') }, { method: 'POST' });
    const failed = await gql(gateway, SUBMIT, { input: { input: INPUT, options: { prompt: PROMPT } } });
    expect(failed.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');

    await until(async () => (await scrape()).samples.get('gateway_websocket_connections') === 0);
    const { text, samples: after } = await scrape();
    const moved = (key: string) => delta(before, after, key);

    expect(moved('graphql_operations_total{operationName="Submit",operationType="mutation",outcome="ok"}')).toBe(1);
    expect(
      moved('graphql_operations_total{operationName="Submit",operationType="mutation",outcome="BAD_USER_INPUT"}'),
    ).toBe(1);
    expect(
      moved('graphql_operations_total{operationName="Submit",operationType="mutation",outcome="UPSTREAM_UNAVAILABLE"}'),
    ).toBe(1);
    // The graphql-ws subscription ran through the envelop: counted by Yoga's plugin and by ours.
    expect(moved('graphql_operations_total{operationName="Updated",operationType="subscription",outcome="ok"}')).toBe(
      1,
    );
    expect(moved('graphql_envelop_request{operationName="Updated",operationType="subscription"}')).toBe(1);
    expect(moved('graphql_envelop_request{operationName="Submit",operationType="mutation"}')).toBe(3);
    expect(moved('graphql_envelop_request_duration_count{operationName="Updated",operationType="subscription"}')).toBe(
      1,
    );

    expect(moved('gateway_upstream_calls_total{endpoint="submit",status="200"}')).toBe(1);
    expect(moved('gateway_upstream_calls_total{endpoint="submit",status="503"}')).toBe(1);
    const reads = up.requestsTo('GET').length;
    expect(reads).toBeGreaterThan(0);
    expect(moved('gateway_upstream_calls_total{endpoint="read",status="200"}')).toBe(reads);
    expect(moved('gateway_upstream_call_duration_seconds_count{endpoint="submit"}')).toBe(2);
    expect(moved('gateway_budget_grants_total{class="submit"}')).toBe(2);
    expect(moved('gateway_poll_reads_total')).toBe(reads);
    expect(moved('gateway_submits_total{outcome="accepted"}')).toBe(1);
    expect(moved('gateway_submits_total{outcome="BAD_USER_INPUT"}')).toBe(1);
    expect(moved('gateway_submits_total{outcome="UPSTREAM_UNAVAILABLE"}')).toBe(1);
    // Only the accepted submit left QUEUED (the refused one was discarded, never taking an upstream id).
    expect(moved('gateway_queue_wait_seconds_count')).toBe(1);
    expect(after.get('gateway_queue_wait_seconds_sum')).toBeLessThan(5);
    // Every HTTP operation is looked up: the three submits and the first read miss, the second read hits.
    expect(moved('gateway_read_cache_requests_total{result="miss"}')).toBe(4);
    expect(moved('gateway_read_cache_requests_total{result="hit"}')).toBe(1);
    expect(moved('gateway_read_cache_entries')).toBe(1);
    expect(moved('gateway_read_cache_bytes')).toBeGreaterThan(100);
    // One 503 is the client's to retry: no pause, and no 429 drawn.
    expect(moved('gateway_budget_pauses_total{reason="failures"}')).toBe(0);
    expect(after.has('gateway_budget_pauses_total{reason="rate_limited"}')).toBe(true);
    expect(moved('gateway_upstream_rate_limited_total')).toBe(0);
    expect(after.get('gateway_subscription_streams{transport="websocket"}')).toBe(0);
    expect(after.get('gateway_subscriptions_open{transport="websocket"}')).toBe(0);
    expect(after.get('process_resident_memory_bytes')).toBeGreaterThan(0);

    // Label values are fixed sets: no key, prompt, input URL or job id among them.
    const labelValues = [...text.matchAll(/="([^"]*)"/g)].map((m) => m[1]!);
    expect(labelValues.length).toBeGreaterThan(20);
    for (const value of labelValues) {
      expect(value).not.toMatch(/claid-key|metrics-token|secret|example\.com|https?:|\/\//);
      expect(value).not.toContain(job.id);
    }
  });

  it('counts webhook notifications accepted and refused, by reason', async () => {
    const before = (await scrape()).samples;
    const post = (body: string, signature: string) =>
      fetch(`${gateway.url}/webhooks/claid`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-claid-hmac-sha256': signature },
        body,
      });
    const sign = (body: string) => createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex');
    const unknownTask = JSON.stringify(claidData(claidTask({ id: 987_654_321, status: 'DONE' })));
    expect((await post(unknownTask, sign(unknownTask))).status).toBe(200);
    expect((await post(unknownTask, sign('another body'))).status).toBe(401);
    expect((await post(unknownTask, 'not-a-signature')).status).toBe(401);
    expect((await post('{"nodata": 1}', sign('{"nodata": 1}'))).status).toBe(400);
    const after = (await scrape()).samples;
    const moved = (key: string) => delta(before, after, key);
    expect(moved('gateway_webhook_notifications_total{result="accepted",reason="ignored"}')).toBe(1);
    expect(moved('gateway_webhook_notifications_total{result="refused",reason="bad_signature"}')).toBe(2);
    expect(moved('gateway_webhook_notifications_total{result="refused",reason="not_json"}')).toBe(1);
    expect(moved('gateway_webhook_notifications_total{result="accepted",reason="applied"}')).toBe(0);
  });

  it('counts upstream 429s drawn and the pause they began; the submit it hit is queued', async () => {
    const before = (await scrape()).samples;
    up.enqueue(
      { status: 429, body: claidErrorBody('slow down'), headers: { 'ratelimit-reset': '1' } },
      { method: 'POST' },
    );
    const limited = await gql(gateway, SUBMIT, { input: { input: INPUT, options: { prompt: PROMPT } } });
    expect(limited.errors).toBeUndefined();
    expect(limited.data?.submitAiEdit.job.status).toBe('QUEUED');
    const after = (await scrape()).samples;
    const moved = (key: string) => delta(before, after, key);
    expect(moved('gateway_upstream_rate_limited_total')).toBe(1);
    expect(moved('gateway_budget_pauses_total{reason="rate_limited"}')).toBe(1);
    expect(moved('gateway_upstream_calls_total{endpoint="submit",status="429"}')).toBe(1);
    expect(moved('gateway_submits_total{outcome="queued"}')).toBe(1);
  });

  it('counts unfinished jobs by status from the store on a timer', async () => {
    const own = await startTestGateway({
      env: {
        CLAID_API_KEY: 'claid-key-never-in-labels',
        CLAID_API_URL: up.url,
        METRICS_TOKEN: TOKEN,
        METRICS_JOB_COUNT_INTERVAL_MS: '100',
        // No reads, so the job stays ACCEPTED.
        POLL_INTERVAL_MS: '60000',
        BACKGROUND_POLL_INTERVAL_MS: '60000',
      },
    });
    try {
      const jobs = async () => {
        const res = await fetch(`${own.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
        return parse(await res.text()).get('gateway_unfinished_jobs{status="ACCEPTED"}');
      };
      expect(await jobs()).toBe(0);
      const submitted = await gql(own, SUBMIT, { input: { input: INPUT, options: { prompt: PROMPT } } });
      expect(submitted.errors).toBeUndefined();
      await until(async () => (await jobs()) === 1);
      expect(
        parse(await (await fetch(`${own.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text()).has(
          'gateway_unfinished_jobs{status="DONE"}',
        ),
      ).toBe(false);
    } finally {
      await own.stop();
    }
  });

  it('counts a per-caller limit refusal by limit, and a validation failure over graphql-ws', async () => {
    const own = await startTestGateway({
      env: { CLAID_API_KEY: 'k', CLAID_API_URL: up.url, METRICS_TOKEN: TOKEN, MAX_SUBMITS_PER_MINUTE: '1' },
    });
    try {
      const read = async () =>
        parse(await (await fetch(`${own.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text());
      const before = await read();
      for (const _ of [1, 2]) await gql(own, SUBMIT, { input: { input: INPUT, options: { prompt: PROMPT } } });
      const client = wsClient(own);
      const refused = collect(client, 'subscription Nope { noSuchField }', {});
      const { error } = await refused.done;
      expect(error).toBeDefined();
      await client.dispose();
      const after = await read();
      expect(delta(before, after, 'gateway_caller_limit_refusals_total{limit="MAX_SUBMITS_PER_MINUTE"}')).toBe(1);
      expect(
        delta(
          before,
          after,
          'graphql_operations_total{operationName="Submit",operationType="mutation",outcome="RATE_LIMITED"}',
        ),
      ).toBe(1);
      expect(
        delta(
          before,
          after,
          'graphql_operations_total{operationName="Nope",operationType="subscription",outcome="GRAPHQL_VALIDATION_FAILED"}',
        ),
      ).toBe(1);
    } finally {
      await own.stop();
    }
  });

  it('counts a masked error as masked', async () => {
    const own = await startTestGateway({ env: { METRICS_TOKEN: TOKEN } });
    try {
      await own.internals.store.close();
      const res = await gql(own, 'query Mine { aiEditJobs { edges { node { id } } } }');
      expect(res.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      const text = await (await fetch(`${own.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      expect(
        parse(text).get('graphql_operations_total{operationName="Mine",operationType="query",outcome="masked"}'),
      ).toBe(1);
    } finally {
      await own.stop().catch(() => undefined);
    }
  });

  it('on the main port answers only the token', async () => {
    const url = `${gateway.url}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('graphql_operations_total');
  });

  it('is off, and not served, when neither METRICS_PORT nor METRICS_TOKEN is set', async () => {
    const plain = await startTestGateway();
    try {
      expect(plain.internals.metrics).toBeUndefined();
      expect((await fetch(`${plain.url}/metrics`)).status).toBe(404);
    } finally {
      await plain.stop();
    }
  });

  it('serves METRICS_PORT on loopback by default', () => {
    expect(gateway.internals.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(gateway.internals.metricsUrl).not.toBe(gateway.url);
  });
});

async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
