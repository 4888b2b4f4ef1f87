import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { gql, startTestGateway } from './support/gateway.js';

// Malformed and random input over real sockets: over 1,000 HTTP bodies and over 1,000 WebSocket frames. Every HTTP
// answer is a 4xx or a GraphQL response, every socket ends in a protocol close (or stays usable), the gateway keeps
// answering /health, and the heap returns near its baseline. The inputs come from a seeded generator, so a failure
// can be replayed.

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);

function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const text = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(int(3) === 0 ? int(0xffff) : 32 + int(95))).join('');
  return { next, int, pick, bytes, text };
}

const FRAGMENTS = [
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  '...',
  'on',
  'query',
  'mutation',
  'subscription',
  'fragment',
  '$id',
  ':',
  '@skip',
  '@include(if: true)',
  'aiEditJob',
  'aiEditJobs',
  'node',
  'submitAiEdit',
  '__typename',
  '__schema',
  '__type',
  'edges',
  'id',
  '"str"',
  '123',
  '1e999',
  'null',
  ',',
  '#c\n',
  '\u0000',
  '\ud800',
];

function graphqlish(r: ReturnType<typeof prng>): string {
  return Array.from({ length: 1 + r.int(60) }, () => r.pick(FRAGMENTS)).join(r.pick([' ', '', '\n']));
}

function randomBody(r: ReturnType<typeof prng>): string | Buffer {
  switch (r.int(14)) {
    case 0:
      return r.bytes(r.int(2000));
    case 1:
      return r.text(r.int(500));
    case 2:
      return JSON.stringify({ query: graphqlish(r) });
    case 3:
      return JSON.stringify({
        query: graphqlish(r),
        variables: r.pick([null, 1, 'x', [], { id: r.text(5) }]),
        operationName: r.pick([null, 1, 'X', {}]),
      });
    case 4:
      return JSON.stringify({ query: r.pick([1, true, null, [], {}, ['{ __typename }']]) });
    case 5:
      return JSON.stringify(r.pick([[], [{ query: '{ __typename }' }], 'string', 42, null, true]));
    case 6:
      return `{"query":"{ __typename }"${r.text(r.int(20))}`; // truncated or trailing garbage
    case 7:
      return '['.repeat(1 + r.int(20_000)) + ']'.repeat(r.int(2)); // deep JSON nesting
    case 8:
      return JSON.stringify({ query: `${'{ aiEditJobs '.repeat(1 + r.int(3000))}` }); // deep selection sets
    case 9:
      return JSON.stringify({
        query: `{ ${Array.from({ length: 1 + r.int(400) }, (_, i) => `a${i}: __typename`).join(' ')} }`,
      });
    case 10:
      return JSON.stringify({
        query: 'query($id: ID!) { aiEditJob(id: $id) { id status } }',
        variables: { id: r.pick([r.text(30), 1, null, 'QWlFZGl0Sm9iOjE=', 'x'.repeat(5000)]) },
      });
    case 11:
      return JSON.stringify({
        query: 'mutation($i: SubmitAiEditInput!) { submitAiEdit(input: $i) { job { id } } }',
        variables: { i: r.pick([{}, { input: 1 }, { input: 'ftp://x', options: { prompt: r.text(3) } }, null]) },
      });
    case 12:
      return JSON.stringify({
        documentId: r.text(64),
        extensions: r.pick([{ persistedQuery: { sha256Hash: r.text(64) } }, 'x', [], null]),
      });
    default:
      return JSON.stringify({ query: `{ __typename ${'#'.repeat(r.int(200_000))}\n }` }); // long documents, some past the body limit
  }
}

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json',
  'application/graphql-response+json',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'application/graphql',
  '',
  'application/json; charset=utf-16',
];

let gc: () => void;
function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

describe('fuzzing the gateway', () => {
  let gateway: Gateway;
  let baseline: number;
  const r = prng(SEED);

  beforeAll(async () => {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
    gateway = await startTestGateway();
    for (let i = 0; i < 50; i++) await gql(gateway, '{ __typename }');
    baseline = heapAfterGc();
  });
  afterAll(() => gateway.stop());

  async function httpRound(total: number) {
    const outcomes = new Map<string, number>();
    const failures: string[] = [];
    const one = async (i: number) => {
      const body = randomBody(r);
      const method = r.int(10) === 0 ? r.pick(['GET', 'PUT', 'DELETE', 'PATCH']) : 'POST';
      const contentType = r.pick(CONTENT_TYPES);
      const headers: Record<string, string> = {
        accept: r.pick([
          'application/json',
          'application/graphql-response+json',
          '*/*',
          'text/event-stream',
          'image/png',
        ]),
      };
      if (contentType) headers['content-type'] = contentType;
      const query =
        method === 'GET'
          ? `?${new URLSearchParams({ query: typeof body === 'string' ? body.slice(0, 3000) : body.toString('latin1') })}`
          : '';
      if (method === 'GET' && r.int(2) === 0) headers['x-graphql-yoga-csrf'] = '1';
      try {
        const res = await fetch(`${gateway.url}/graphql${query}`, {
          method,
          headers,
          body: method === 'GET' ? undefined : new Uint8Array(Buffer.isBuffer(body) ? body : Buffer.from(body)),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        const key = String(res.status);
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if (res.status >= 500) failures.push(`#${i} ${method} ${contentType}: ${res.status} ${text.slice(0, 200)}`);
        else if (res.status < 400) {
          // A 2xx must be a GraphQL response (data and/or errors), or an event stream of them.
          const ok =
            headers.accept === 'text/event-stream'
              ? /event:|data:/.test(text) || text === ''
              : /"(data|errors)"/.test(text);
          if (!ok) failures.push(`#${i}: ${res.status} not a GraphQL response: ${text.slice(0, 200)}`);
        }
      } catch (error) {
        failures.push(
          `#${i} ${method} ${contentType}: ${(error as Error).message} ${String((error as { cause?: unknown }).cause)}`,
        );
      }
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) await one(next++);
      }),
    );
    return { outcomes, failures };
  }

  it('answers 1,200 malformed or random HTTP requests with a 4xx or a GraphQL response, never a 5xx or a dropped connection', async () => {
    const total = 1200;
    const { outcomes, failures } = await httpRound(total);
    expect(failures, failures.slice(0, 10).join('\n')).toEqual([]);
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(total);
    console.info(`HTTP fuzz (seed ${SEED}) statuses: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    expect(await gql(gateway, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
  });

  it('ends 500 WebSocket sessions of random frames (over 1,000 frames) in a protocol close or a usable socket', async () => {
    const closeCodes = new Map<number, number>();
    const failures: string[] = [];
    let frames = 0;
    const PROTOCOL_CLOSES = new Set([1000, 1002, 1006, 1007, 1009, 4400, 4401, 4403, 4406, 4408, 4409, 4429, 4500]);
    const frame = (): string | Buffer => {
      switch (r.int(10)) {
        case 0:
          return r.bytes(r.int(300));
        case 1:
          return r.text(r.int(200));
        case 2:
          return JSON.stringify({
            type: r.pick(['subscribe', 'next', 'complete', 'error', 'pong', 'ping', 'x', 1, null]),
            id: r.pick(['1', 1, null, '', 'x'.repeat(300)]),
            payload: r.pick([null, 1, 'p', {}, { query: graphqlish(r) }]),
          });
        case 3:
          return JSON.stringify({ type: 'subscribe', id: String(r.int(5)), payload: { query: graphqlish(r) } });
        case 4:
          return JSON.stringify({
            type: 'subscribe',
            id: String(r.int(5)),
            payload: {
              query: 'subscription($id: ID!) { aiEditJobUpdated(id: $id) { status } }',
              variables: { id: r.pick([r.text(10), 'QWlFZGl0Sm9iOjk5OQ==', 5]) },
            },
          });
        case 5:
          return JSON.stringify({
            type: 'connection_init',
            payload: r.pick([null, 'x', [], { authorization: r.text(10) }]),
          });
        case 6:
          return 'x'.repeat(70 * 1024); // over the 64 KB frame limit
        case 7:
          return JSON.stringify({ type: 'ping' });
        case 8:
          return JSON.stringify({ type: 'complete', id: String(r.int(5)) });
        default:
          return JSON.stringify([{ type: 'connection_init' }]);
      }
    };
    const session = (i: number) =>
      new Promise<void>((resolve) => {
        const socket = new WebSocket(
          `${gateway.url.replace(/^http/, 'ws')}/graphql`,
          r.int(20) === 0 ? r.pick(['graphql-ws', 'nonsense']) : 'graphql-transport-ws',
        );
        const timer = setTimeout(() => {
          failures.push(`session ${i}: neither closed nor answered in time`);
          socket.terminate();
          resolve();
        }, 8_000);
        const finish = () => {
          clearTimeout(timer);
          resolve();
        };
        socket.on('error', () => undefined);
        socket.on('close', (code) => {
          closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
          if (!PROTOCOL_CLOSES.has(code)) failures.push(`session ${i}: closed with ${code}`);
          finish();
        });
        socket.on('open', () => {
          if (r.int(3) > 0) socket.send(JSON.stringify({ type: 'connection_init' }));
          const count = 3 + r.int(4);
          for (let k = 0; k < count && socket.readyState === WebSocket.OPEN; k++) {
            socket.send(frame(), { binary: r.int(5) === 0 });
            frames++;
          }
          // A socket that survived its frames must still answer a ping with a pong; then we close it normally.
          socket.send(JSON.stringify({ type: 'ping' }));
          socket.on('message', (data) => {
            if (String(data).includes('"pong"')) socket.close(1000);
          });
        });
      });
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < 500) await session(next++);
      }),
    );
    expect(failures, failures.slice(0, 10).join('\n')).toEqual([]);
    expect(frames).toBeGreaterThanOrEqual(1000);
    console.info(
      `WebSocket fuzz (seed ${SEED}): ${frames} frames, close codes ${JSON.stringify(Object.fromEntries(closeCodes))}`,
    );
    // Garbage is answered by graphql-ws's protocol closes (4400 and friends), not by dropped connections.
    expect([...closeCodes.keys()].some((c) => c >= 4400)).toBe(true);
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    expect(await gql(gateway, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
  });

  it('returns near its heap baseline afterwards, and a second round does not grow it further', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const after = heapAfterGc();
    // Yoga's parse/validation cache (an LRU of at most 1,000 documents) accounts for most of the difference.
    const { failures } = await httpRound(600);
    expect(failures).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    const again = heapAfterGc();
    console.info(
      `heap after GC: baseline ${(baseline / 1e6).toFixed(1)} MB, after the fuzz ${(after / 1e6).toFixed(1)} MB, after a second round ${(again / 1e6).toFixed(1)} MB`,
    );
    // Tolerant bounds: the test's own bookkeeping and V8's caches live in the same heap.
    expect(after - baseline).toBeLessThan(40 * 1024 * 1024);
    expect(again - after).toBeLessThan(15 * 1024 * 1024);
  });
});
