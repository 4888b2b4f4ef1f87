import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { gql, SUBMIT, startTestGateway } from './support/gateway.js';
import { collect, UPDATED } from './support/subscriptions.js';
import { claidData, claidResult, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

// A real OTLP/HTTP receiver on a loopback port takes what the gateway exports (the JSON encoding of OTLP), and the
// span trees are read back from it: a submit, a poll read, a graphql-ws subscription and a webhook, each with the
// caller's trace context honoured and the request id on the spans.

const API_KEY = 'claid-key-never-in-spans';
const INPUT = 'https://images.example.com/private/cat.png';
const PROMPT = 'turn the secret cat into a duck';
const WEBHOOK_SECRET = 'webhook-secret-0123456789abcdef';

type AttributeValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: AttributeValue }[];
  status?: { code?: number; message?: string };
}
interface Received {
  serviceName: string | undefined;
  span: OtlpSpan;
}

let receiver: Server;
const received: Received[] = [];
const receivedPaths: string[] = [];
let up: TestUpstream;
let gateway: Gateway;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      receivedPaths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: AttributeValue }[] };
          scopeSpans: { spans: OtlpSpan[] }[];
        }[];
      };
      for (const { resource, scopeSpans } of body.resourceSpans) {
        const serviceName = resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
        for (const { spans } of scopeSpans) for (const span of spans) received.push({ serviceName, span });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as { port: number };
  up = await startTestUpstream();
  gateway = await startTestGateway({
    env: {
      CLAID_API_KEY: API_KEY,
      CLAID_API_URL: up.url,
      CLAID_WEBHOOK_SECRET: WEBHOOK_SECRET,
      POLL_INTERVAL_MS: '40',
      BACKGROUND_POLL_INTERVAL_MS: '100',
      UPSTREAM_RETRIES: '0',
      // The standard meaning: a base URL, to which the exporter's path is added.
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/`,
      OTEL_SERVICE_NAME: 'gateway-under-test',
    },
  });
});
afterAll(async () => {
  await gateway?.stop();
  await up?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});
beforeEach(() => {
  up.reset();
});

const attr = (span: OtlpSpan, key: string): string | number | boolean | undefined => {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue;
};
const spans = () => received.map((r) => r.span);
const childrenOf = (parent: OtlpSpan) => spans().filter((s) => s.parentSpanId === parent.spanId);
/** Whether `span` descends from `ancestor` within the spans received. */
const descendsFrom = (span: OtlpSpan, ancestor: OtlpSpan): boolean => {
  const byId = new Map(spans().map((s) => [s.spanId, s]));
  for (let at = span.parentSpanId; at; at = byId.get(at)?.parentSpanId) if (at === ancestor.spanId) return true;
  return false;
};

async function waitForSpan(predicate: (span: OtlpSpan) => boolean, timeoutMs = 10_000): Promise<OtlpSpan> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = spans().find(predicate);
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(
        `no such span among ${spans()
          .map((s) => s.name)
          .join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

describe('OpenTelemetry traces over OTLP/HTTP', () => {
  it('traces a submit: the operation under the caller’s traceparent, its phases, the Claid call and the store', async () => {
    const traceId = hex(16);
    const callerSpanId = hex(8);
    const requestId = `submit-${hex(4)}`;
    const submitted = await gql(
      gateway,
      SUBMIT,
      { input: { input: INPUT, options: { prompt: PROMPT } } },
      { traceparent: `00-${traceId}-${callerSpanId}-01`, 'x-request-id': requestId },
    );
    expect(submitted.errors).toBeUndefined();

    const operation = await waitForSpan((s) => s.traceId === traceId && s.name === 'graphql.mutation Submit');
    expect(operation.parentSpanId).toBe(callerSpanId);
    expect(operation.kind).toBe(2); // SERVER
    expect(attr(operation, 'graphql.operation.type')).toBe('mutation');
    expect(attr(operation, 'graphql.operation.name')).toBe('Submit');
    expect(attr(operation, 'gateway.request_id')).toBe(requestId);

    const execute = await waitForSpan((s) => s.name === 'graphql.execute' && s.parentSpanId === operation.spanId);
    const phases = childrenOf(operation).map((s) => s.name);
    expect(phases).toEqual(expect.arrayContaining(['graphql.parse', 'graphql.validate', 'graphql.execute']));

    const claid = await waitForSpan((s) => s.traceId === traceId && s.name === 'POST /v1/image/ai-edit');
    expect(descendsFrom(claid, execute)).toBe(true);
    expect(claid.kind).toBe(3); // CLIENT
    expect(attr(claid, 'http.request.method')).toBe('POST');
    expect(attr(claid, 'url.template')).toBe('/v1/image/ai-edit');
    expect(attr(claid, 'http.response.status_code')).toBe(200);
    expect(attr(claid, 'claid.request_id')).toMatch(/^test-req-\d+$/);
    expect(attr(claid, 'gateway.request_id')).toBe(requestId);

    for (const method of ['insertQueued', 'applyUpstreamState']) {
      const store = await waitForSpan((s) => s.traceId === traceId && s.name === `store.${method}`);
      expect(descendsFrom(store, execute)).toBe(true);
      expect(attr(store, 'db.system.name')).toBe('sqlite');
      expect(attr(store, 'gateway.request_id')).toBe(requestId);
    }
    expect(received.every((r) => r.serviceName === 'gateway-under-test')).toBe(true);
    expect(receivedPaths[0]).toMatch(/^POST \/v1\/traces application\/json/);

    // Nothing secret or user-given in any span.
    const text = JSON.stringify(spans());
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain('images.example.com');
    expect(text).not.toContain(PROMPT);
  });

  it('traces a poll read: a job.refresh root with the Claid read and the store update under it', async () => {
    const submitted = await gql(gateway, SUBMIT, { input: { input: INPUT, options: { prompt: PROMPT } } });
    const job = submitted.data!.submitAiEdit.job;
    // The schema's id is a Relay global id; spans carry the gateway's own.
    const jobId = Buffer.from(job.id, 'base64').toString('utf8').split(':').at(-1);
    const refresh = await waitForSpan(
      (s) =>
        s.name === 'job.refresh' &&
        attr(s, 'gateway.job_id') === jobId &&
        !s.parentSpanId &&
        childrenOf(s).some((c) => c.name === 'store.applyUpstreamState'),
    );
    // Background work: no request's id, though its timer may have been set while serving one.
    expect(attr(refresh, 'gateway.request_id')).toBeUndefined();
    const read = childrenOf(refresh).find((s) => s.name === 'GET /v1/image/ai-edit/{id}');
    expect(read).toBeDefined();
    expect(attr(read!, 'url.template')).toBe('/v1/image/ai-edit/{id}');
    expect(attr(read!, 'http.response.status_code')).toBe(200);
    expect(attr(read!, 'claid.request_id')).toMatch(/^test-req-\d+$/);
    expect(JSON.stringify(read)).not.toContain(`/v1/image/ai-edit/${job.upstreamId}`);
    expect(childrenOf(refresh).map((s) => s.name)).toContain('store.applyUpstreamState');
  });

  it('traces a graphql-ws subscription under the upgrade’s traceparent, with the connection’s request id', async () => {
    const submitted = await gql(gateway, SUBMIT, { input: { input: INPUT, options: { prompt: PROMPT } } });
    const job = submitted.data!.submitAiEdit.job;
    const traceId = hex(16);
    const callerSpanId = hex(8);
    const requestId = `ws-${hex(4)}`;
    const headers = { traceparent: `00-${traceId}-${callerSpanId}-01`, 'x-request-id': requestId };
    class TracedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers });
      }
    }
    const client = createClient({
      url: `${gateway.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: TracedWebSocket,
      retryAttempts: 0,
    });
    const updates = collect(client, UPDATED, { id: job.id });
    up.setTask(job.upstreamId, { status: 'DONE', result: claidResult() });
    const { error } = await updates.done;
    expect(error).toBeUndefined();
    await client.dispose();

    const operation = await waitForSpan((s) => s.traceId === traceId && s.name === 'graphql.subscription Updated');
    expect(operation.parentSpanId).toBe(callerSpanId);
    expect(attr(operation, 'gateway.request_id')).toBe(requestId);
    await waitForSpan((s) => s.name === 'graphql.subscribe' && s.parentSpanId === operation.spanId);
    expect(childrenOf(operation).map((s) => s.name)).toEqual(
      expect.arrayContaining(['graphql.parse', 'graphql.validate', 'graphql.subscribe']),
    );
  });

  it('traces webhook intake, with the store lookup under it', async () => {
    const submitted = await gql(gateway, SUBMIT, { input: { input: INPUT, options: { prompt: PROMPT } } });
    const job = submitted.data!.submitAiEdit.job;
    // The task as the fake Claid holds it (so it matches the job's request), moved on by the notification.
    const body = JSON.stringify(claidData({ ...up.tasks.get(job.upstreamId)!, status: 'PROCESSING' }));
    const res = await fetch(`${gateway.url}/webhooks/claid`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-claid-hmac-sha256': createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex'),
        'x-request-id': 'webhook-req-1',
      },
      body,
    });
    expect(res.status).toBe(200);
    const intake = await waitForSpan(
      (s) => s.name === 'webhook.claid' && attr(s, 'gateway.request_id') === 'webhook-req-1',
    );
    expect(attr(intake, 'webhook.accepted')).toBe(true);
    expect(attr(intake, 'webhook.result')).toBe('applied');
    const lookup = await waitForSpan((s) => s.name === 'store.findByUpstreamId' && s.parentSpanId === intake.spanId);
    expect(lookup.traceId).toBe(intake.traceId);
  });

  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const plain = await startTestGateway();
    try {
      expect(plain.internals.config.tracing.tracesUrl).toBeUndefined();
      expect(plain.internals.tracing).toBeUndefined();
    } finally {
      await plain.stop();
    }
  });
});
