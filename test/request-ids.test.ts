import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { captureLogger, gql, READ, readUntilFinal, SUBMIT, startTestGateway } from './support/gateway.js';

// Request ids over real HTTP and WebSocket: echoed, generated, refused when unsafe, on every log line of the
// request and as the correlationId of a masked error.

let gateway: Gateway;
let capture: ReturnType<typeof captureLogger>;

beforeAll(async () => {
  capture = captureLogger('trace');
  gateway = await startTestGateway({ logger: capture.logger });
});
afterAll(() => gateway.stop());

const logged = () => capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

async function post(query: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { id: res.headers.get('x-request-id'), body: (await res.json()) as Record<string, any> };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request ids over HTTP', () => {
  it('echoes a safe x-request-id', async () => {
    const { id, body } = await post('{ __typename }', { 'x-request-id': 'client-req.42:a_b-c' });
    expect(body).toEqual({ data: { __typename: 'Query' } });
    expect(id).toBe('client-req.42:a_b-c');
  });

  it('generates one when none is sent, a different one per request', async () => {
    const first = await post('{ __typename }');
    const second = await post('{ __typename }');
    expect(first.id).toMatch(UUID);
    expect(second.id).toMatch(UUID);
    expect(second.id).not.toBe(first.id);
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['with a space', 'has space'],
    ['with a quote', 'a"b'],
    ['with a slash', '../etc'],
    ['empty', ''],
  ])('replaces one %s with a generated one', async (_why, unsafe) => {
    const { id } = await post('{ __typename }', { 'x-request-id': unsafe });
    expect(id).toMatch(UUID);
  });

  it('returns the id on answers Yoga does not serve too (/ready)', async () => {
    const res = await fetch(`${gateway.url}/ready`, { headers: { 'x-request-id': 'ready-probe-1' } });
    await res.text();
    expect(res.headers.get('x-request-id')).toBe('ready-probe-1');
  });

  it('a read answered from the read cache carries its own id, not the one of the read that filled it', async () => {
    const submitted = await gql(gateway, SUBMIT, {
      input: { input: gateway.internals.simulator!.sampleUrl(), options: { prompt: 'add a duck' } },
    });
    const { id } = submitted.data!.submitAiEdit.job;
    await readUntilFinal(gateway, id);
    const hitsBefore = gateway.internals.readCache.stats.hits;
    const read = (requestId: string) =>
      fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': requestId },
        body: JSON.stringify({ query: READ, variables: { id } }),
      });
    const first = await read('fill-1');
    await first.text();
    const second = await read('hit-2');
    await second.text();
    expect(gateway.internals.readCache.stats.hits).toBe(hitsBefore + 1);
    expect(first.headers.get('x-request-id')).toBe('fill-1');
    expect(second.headers.get('x-request-id')).toBe('hit-2');
  });

  it('uses it as the correlationId of a masked error, and every log line of the request carries it', async () => {
    // A gateway of its own: closing its store is what makes the read fail unexpectedly.
    const own = captureLogger('trace');
    const broken = await startTestGateway({ logger: own.logger });
    try {
      await broken.internals.store.close();
      const res = await fetch(`${broken.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'masked-req-7' },
        body: JSON.stringify({ query: '{ aiEditJobs { edges { node { id } } } }' }),
      });
      const body = (await res.json()) as Record<string, any>;
      expect(res.headers.get('x-request-id')).toBe('masked-req-7');
      expect(body.errors[0].extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', correlationId: 'masked-req-7' });
      const lines = own.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const unexpected = lines.find((l) => l.msg === 'unexpected error');
      expect(unexpected).toMatchObject({ correlationId: 'masked-req-7', requestId: 'masked-req-7', level: 50 });
      // Yoga's own lines of that request (its copy of the error, at debug) carry the id as well.
      const yogaLines = lines.filter((l) => l.component === 'yoga');
      expect(yogaLines.length).toBeGreaterThan(0);
      for (const line of yogaLines) expect(line.requestId).toBe('masked-req-7');
    } finally {
      await broken.stop().catch(() => undefined);
    }
  });

  it('log lines of a submit name its request, and lines outside a request name none', async () => {
    const before = capture.lines.length;
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'submit-req-1' },
      body: JSON.stringify({
        query: 'mutation($input: SubmitAiEditInput!) { submitAiEdit(input: $input) { job { id } } }',
        variables: {
          input: { input: gateway.internals.simulator!.sampleUrl(), options: { prompt: 'add a duck' } },
        },
      }),
    });
    const body = (await res.json()) as Record<string, any>;
    expect(body.errors).toBeUndefined();
    const lines = logged().slice(before);
    const submitCall = lines.find((l) => l.msg === 'claid call' && l.kind === 'submit');
    expect(submitCall).toMatchObject({ requestId: 'submit-req-1' });
    // The start-up line was written before any request.
    expect(logged().find((l) => l.msg === 'gateway listening')?.requestId).toBeUndefined();
  });
});

describe('request ids over graphql-ws', () => {
  it('echoes the upgrade’s x-request-id on the 101 and masks an unexpected failure with it', async () => {
    // A store closed under a query makes an unexpected failure, masked with the connection's id.
    const own = captureLogger('trace');
    const broken = await startTestGateway({ logger: own.logger });
    try {
      await broken.internals.store.close();
      const ws = new WebSocket(`${broken.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', {
        headers: { 'x-request-id': 'ws-conn-10' },
      });
      const upgraded = once(ws, 'upgrade') as Promise<[IncomingMessage]>;
      const opened = once(ws, 'open');
      const [upgrade] = await upgraded;
      await opened;
      expect(upgrade.headers['x-request-id']).toBe('ws-conn-10');
      const got: Record<string, any>[] = [];
      ws.on('message', (data) => got.push(JSON.parse(String(data))));
      ws.send(JSON.stringify({ type: 'connection_init' }));
      await until(() => got.some((m) => m.type === 'connection_ack'));
      ws.send(
        JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ aiEditJobs { edges { node { id } } } }' } }),
      );
      await until(() => got.some((m) => m.id === '1' && m.type === 'complete'));
      const next = got.find((m) => m.id === '1' && m.type === 'next');
      expect(next?.payload.errors[0].extensions).toEqual({
        code: 'INTERNAL_SERVER_ERROR',
        correlationId: 'ws-conn-10',
      });
      const lines = own.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.msg === 'unexpected error')).toMatchObject({ requestId: 'ws-conn-10' });
      ws.close(1000);
    } finally {
      await broken.stop().catch(() => undefined);
    }
  });

  it('generates a connection id when the upgrade has none', async () => {
    const socket = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const [upgrade] = (await once(socket, 'upgrade')) as [IncomingMessage];
    expect(upgrade.headers['x-request-id']).toMatch(UUID);
    socket.close(1000);
  });
});

async function until(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
