import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../src/domain/errors.js';
import type { AiEditRequest } from '../src/domain/job.js';
import { createLogger } from '../src/lib/logger.js';
import {
  type ClaidClient,
  type ClaidClientOptions,
  createClaidClient,
  type UpstreamBudget,
} from '../src/services/upstream/claid-client.js';
import { firstInteger, parseClaidErrorBody, parseRetryAfterSeconds } from '../src/services/upstream/claid-errors.js';
import {
  claidData,
  claidDetailErrorBody,
  claidErrorBody,
  claidResult,
  claidTask,
  closedPort,
  fastApiValidationBody,
  rateLimitedReply,
  rateLimitHeaders,
  startTestUpstream,
  type TestUpstream,
} from './support/test-upstream.js';

// A distinctive key: if it shows up in any error or log line, the test says so.
const API_KEY = 'sk-claid-TEST-5ecr3t-9f8e7d6c';
const request: AiEditRequest = { input: 'https://picsum.photos/500', options: { prompt: 'add a duck' } };

interface Observation {
  httpStatus: number | null;
  remaining: number | null;
  resetSeconds: number | null;
  window?: { seconds: number; limit: number };
}

class RecordingBudget implements UpstreamBudget {
  acquired: Array<'submit' | 'read'> = [];
  observed: Observation[] = [];
  onAcquire: ((n: number) => Promise<void> | void) | undefined;
  async acquire(kind: 'submit' | 'read') {
    this.acquired.push(kind);
    await this.onAcquire?.(this.acquired.length);
  }
  observe(obs: Observation) {
    this.observed.push(obs);
  }
}

// Everything any client in this file logged or threw, checked for the key at the end.
const allLogLines: string[] = [];
const allErrors: unknown[] = [];

interface Harness {
  client: ClaidClient;
  budget: RecordingBudget;
  logs: Array<Record<string, unknown>>;
}

const clients: ClaidClient[] = [];

function makeClient(baseUrl: string, overrides: Partial<ClaidClientOptions> = {}): Harness {
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger('trace', {
    write(line: string) {
      allLogLines.push(line);
      logs.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  const budget = new RecordingBudget();
  const client = createClaidClient({
    baseUrl,
    apiKey: API_KEY,
    timeoutMs: 2000,
    retries: 2,
    logger,
    budget,
    ...overrides,
  });
  clients.push(client);
  return { client, budget, logs };
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (err) {
    allErrors.push(err);
    expect(err).toBeInstanceOf(UpstreamError);
    return err as UpstreamError;
  }
  throw new Error('expected the call to fail');
}

const callLines = (logs: Array<Record<string, unknown>>) =>
  logs.filter((l) => l.msg === 'claid call' || l.msg === 'claid call failed');

let up: TestUpstream;

beforeAll(async () => {
  up = await startTestUpstream();
});
afterAll(async () => {
  await up.close();
});
beforeEach(() => up.reset());
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('successful calls', () => {
  it('submits with the bearer key and reads the task back', async () => {
    const { client, logs } = makeClient(up.url);
    const submitted = await client.submit(request);
    expect(submitted).toMatchObject({ upstreamId: 1, status: 'ACCEPTED', errors: [], result: null });
    expect(submitted.createdAt).toBeInstanceOf(Date);

    up.setTask(1, { status: 'DONE', result: claidResult(2) });
    const done = await client.getTask(1);
    expect(done.status).toBe('DONE');
    expect(done.result?.outputObjects).toHaveLength(2);

    expect(up.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/image/ai-edit',
      'GET /v1/image/ai-edit/1',
    ]);
    for (const r of up.requests) expect(r.headers.authorization).toBe(`Bearer ${API_KEY}`);

    const lines = callLines(logs);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 30,
      kind: 'submit',
      method: 'POST',
      path: '/v1/image/ai-edit',
      attempt: 1,
      httpStatus: 200,
      claidRequestId: 'test-req-0',
    });
    expect(typeof lines[0]?.durationMs).toBe('number');
    expect(lines[1]).toMatchObject({ kind: 'read', method: 'GET', path: '/v1/image/ai-edit/1', httpStatus: 200 });
  });

  it('tolerates a base URL with a trailing /v1/', async () => {
    const { client } = makeClient(`${up.url}/v1/`);
    await client.submit(request);
    expect(up.requests[0]?.path).toBe('/v1/image/ai-edit');
  });

  it("keeps a base URL's own path (a proxy's prefix) before each call's path", async () => {
    const { client } = makeClient(`${up.url}/claid-proxy/`);
    up.enqueue({ body: claidData(claidTask({ id: 5 })) });
    up.enqueue({ body: claidData(claidTask({ id: 5, status: 'PROCESSING' })) });
    expect((await client.submit(request)).upstreamId).toBe(5);
    expect((await client.getTask(5)).status).toBe('PROCESSING');
    expect(up.requests.map((r) => r.path)).toEqual([
      '/claid-proxy/v1/image/ai-edit',
      '/claid-proxy/v1/image/ai-edit/5',
    ]);
  });

  it('acquires the budget before each attempt and reports every answer to it', async () => {
    const { client, budget } = makeClient(up.url);
    up.enqueue({ body: claidData(claidTask({ id: 7 })), headers: rateLimitHeaders(3, 1) });
    up.enqueue({ status: 503, body: '', headers: { 'ratelimit-remaining': '2', 'ratelimit-reset': '1, 60' } });
    up.enqueue({ body: claidData(claidTask({ id: 7, status: 'PROCESSING' })) });
    await client.submit(request);
    await client.getTask(7);
    expect(budget.acquired).toEqual(['submit', 'read', 'read']);
    expect(budget.observed).toEqual([
      // RateLimit-Limit `4, 120;w=60, 4;w=1`: Remaining and Reset speak of the second's window of 4.
      { httpStatus: 200, remaining: 3, resetSeconds: 1, window: { seconds: 1, limit: 4 } },
      { httpStatus: 503, remaining: 2, resetSeconds: 1 },
      { httpStatus: 200, remaining: null, resetSeconds: null },
    ]);
  });
});

describe('failures map to the contract codes', () => {
  const key = (status: number) => ({ 'x-request-id': `claid-req-${status}` });

  it.each([
    [401, 'UPSTREAM_UNAUTHORIZED', claidErrorBody('Invalid API key.', '0001', 'auth')],
    [402, 'UPSTREAM_PAYMENT_REQUIRED', claidErrorBody('No API calls left.', '0402', 'billing')],
    [403, 'UPSTREAM_FORBIDDEN', claidErrorBody('Not enough permissions.', '0403', 'auth')],
    [422, 'UPSTREAM_VALIDATION', claidErrorBody('Prompt is too short.', '3001', 'validation')],
    [400, 'UPSTREAM_VALIDATION', claidErrorBody('Bad input URL.', '3002', 'validation')],
  ] as const)('%i on submit -> %s, not retried', async (status, code, body) => {
    const { client } = makeClient(up.url);
    up.enqueue({ status, body, headers: key(status) });
    const error = await failure(client.submit(request));
    expect(error.code).toBe(code);
    expect(error.extensions).toEqual({
      upstream: {
        httpStatus: status,
        errorCode: body.error_code,
        errorType: body.error_type,
        errorMessage: body.error_message,
        requestId: `claid-req-${status}`,
      },
    });
    expect(error.message).toContain(body.error_message);
    expect(up.requests).toHaveLength(1);
  });

  it.each([401, 403])('%i on a status read is not retried', async (status) => {
    const { client } = makeClient(up.url);
    up.enqueue({ status, body: claidErrorBody('nope', '0001', 'auth') });
    const error = await failure(client.getTask(3));
    expect(error.code).toBe(status === 401 ? 'UPSTREAM_UNAUTHORIZED' : 'UPSTREAM_FORBIDDEN');
    expect(up.requests).toHaveLength(1);
  });

  it('422 with a FastAPI detail array on a status read -> UPSTREAM_VALIDATION, messages joined', async () => {
    const { client } = makeClient(up.url);
    up.enqueue({
      status: 422,
      headers: key(422),
      body: fastApiValidationBody([
        { loc: ['path', 'ai_edit_id'], msg: 'Input should be a valid integer', type: 'int_parsing' },
        { loc: ['query', 'x'], msg: 'Field required', type: 'missing' },
      ]),
    });
    const error = await failure(client.getTask(5));
    expect(error.code).toBe('UPSTREAM_VALIDATION');
    expect(error.extensions.upstream).toEqual({
      httpStatus: 422,
      errorCode: 'int_parsing',
      errorType: 'validation',
      errorMessage: 'path.ai_edit_id: Input should be a valid integer; query.x: Field required',
      requestId: 'claid-req-422',
    });
    expect(error.message).toBe(
      'Claid rejected the request: path.ai_edit_id: Input should be a valid integer; query.x: Field required',
    );
    expect(up.requests).toHaveLength(1);
  });

  it('429 with RateLimit-Reset and a detail-wrapped body -> UPSTREAM_RATE_LIMITED, submit not retried', async () => {
    const { client, budget } = makeClient(up.url);
    up.enqueue({ ...rateLimitedReply(7), headers: { ...rateLimitHeaders(-1, 7), ...key(429) } });
    const error = await failure(client.submit(request));
    expect(error.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(error.retryAfterSeconds).toBe(7);
    expect(error.extensions).toEqual({
      retryAfterSeconds: 7,
      upstream: {
        httpStatus: 429,
        errorCode: '2001',
        errorType: 'general',
        errorMessage: 'Too Many Requests. Rate limit exceeded.',
        requestId: 'claid-req-429',
      },
    });
    expect(up.requests).toHaveLength(1);
    expect(budget.observed).toEqual([
      { httpStatus: 429, remaining: -1, resetSeconds: 7, window: { seconds: 1, limit: 4 } },
    ]);
  });

  it('429 with Retry-After (seconds) wins over RateLimit-Reset', async () => {
    const { client } = makeClient(up.url);
    up.enqueue({
      status: 429,
      headers: { 'retry-after': '12', 'ratelimit-reset': '1' },
      body: claidErrorBody('slow down'),
    });
    const error = await failure(client.submit(request));
    expect(error.retryAfterSeconds).toBe(12);
  });

  it.each([500, 502, 503, 504])('%i -> UPSTREAM_UNAVAILABLE with what Claid said', async (status) => {
    const { client } = makeClient(up.url, { retries: 0 });
    up.enqueue({ status, headers: key(status), body: claidErrorBody('Internal error', '5000', 'general') });
    const error = await failure(client.getTask(1));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.extensions.upstream).toEqual({
      httpStatus: status,
      errorCode: '5000',
      errorType: 'general',
      errorMessage: 'Internal error',
      requestId: `claid-req-${status}`,
    });
  });

  it('an HTML page from a proxy -> UPSTREAM_UNAVAILABLE without an upstream message', async () => {
    const { client } = makeClient(up.url, { retries: 0 });
    up.enqueue({
      status: 502,
      headers: { 'content-type': 'text/html', 'x-request-id': null },
      body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
    });
    const error = await failure(client.getTask(1));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toBe("Claid is unavailable (HTTP 502): a body that is not Claid's JSON (text/html)");
    expect(error.extensions.upstream).toEqual({
      httpStatus: 502,
      errorCode: null,
      errorType: null,
      errorMessage: null,
      requestId: null,
    });
  });

  it('an empty error body -> UPSTREAM_UNAVAILABLE; an empty 401 keeps its own code', async () => {
    const { client } = makeClient(up.url, { retries: 0 });
    up.enqueue({ status: 503 });
    const unavailable = await failure(client.getTask(1));
    expect(unavailable.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(unavailable.message).toBe('Claid is unavailable (HTTP 503): empty body');
    expect(unavailable.extensions.upstream).toMatchObject({
      httpStatus: 503,
      errorMessage: null,
      requestId: 'test-req-0',
    });

    up.enqueue({ status: 401, body: '' });
    const unauthorized = await failure(client.submit(request));
    expect(unauthorized.code).toBe('UPSTREAM_UNAUTHORIZED');
    expect(unauthorized.extensions.upstream).toMatchObject({ httpStatus: 401, errorCode: null, errorMessage: null });
  });

  it.each([
    ['garbage JSON', { hello: 'world' }, 'no `data` object'],
    ['an unknown status', claidData({ ...claidTask({ id: 1 }), status: 'EXPLODED' }), 'status'],
    ['a body that is not JSON', 'OK', 'not JSON'],
    ['an empty body', undefined, 'empty body'],
  ])('a 2xx with %s -> UPSTREAM_UNAVAILABLE', async (_name, body, detail) => {
    const { client } = makeClient(up.url, { retries: 0 });
    up.enqueue({ status: 200, body, headers: key(200) });
    const error = await failure(client.getTask(1));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toContain("not Claid's JSON (HTTP 200)");
    expect(error.message).toContain(detail);
    expect(error.extensions.upstream).toEqual({
      httpStatus: 200,
      errorCode: null,
      errorType: null,
      errorMessage: null,
      requestId: 'claid-req-200',
    });
  });

  it('an upstream that never answers -> UPSTREAM_UNAVAILABLE after about timeoutMs', async () => {
    const { client, budget, logs } = makeClient(up.url, { timeoutMs: 300, retries: 0 });
    up.enqueue({ hang: true });
    const started = Date.now();
    const error = await failure(client.getTask(1));
    const elapsed = Date.now() - started;
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toBe('Claid did not answer within 300 ms');
    expect(error.extensions.upstream).toEqual({
      httpStatus: null,
      errorCode: null,
      errorType: null,
      errorMessage: null,
      requestId: null,
    });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1500);
    expect(budget.observed).toEqual([{ httpStatus: null, remaining: null, resetSeconds: null }]);
    expect(callLines(logs)[0]).toMatchObject({ httpStatus: null, code: 'UPSTREAM_UNAVAILABLE', reason: 'timeout' });
  });

  it('a body that stalls after the headers also times out', async () => {
    const { client } = makeClient(up.url, { timeoutMs: 300, retries: 0 });
    up.enqueue({ hangBody: true, body: claidData(claidTask({ id: 1 })) });
    const started = Date.now();
    const error = await failure(client.getTask(1));
    expect(error.message).toBe('Claid did not answer within 300 ms');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('an answer over 1 MiB -> UPSTREAM_UNAVAILABLE, without reading it whole', async () => {
    const { client, logs } = makeClient(up.url, { retries: 0 });
    up.enqueue({ body: 'x'.repeat(2 * 1024 * 1024), headers: { 'content-type': 'application/json' } });
    const error = await failure(client.getTask(1));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    // Refused by the client's size limit as it arrived, not read whole and then found not to be JSON.
    expect(callLines(logs)[0]).toMatchObject({
      httpStatus: 200,
      code: 'UPSTREAM_UNAVAILABLE',
      reason: 'UND_ERR_RES_EXCEEDED_MAX_SIZE',
    });
  });

  it('404 on a status read -> UPSTREAM_UNAVAILABLE with httpStatus 404, left to the poller', async () => {
    const { client } = makeClient(up.url, { retries: 2 });
    const error = await failure(client.getTask(99));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toBe('Claid does not know task 99 (HTTP 404): Web image not found.');
    expect(error.extensions.upstream).toMatchObject({ httpStatus: 404, errorMessage: 'Web image not found.' });
    expect(up.requests).toHaveLength(1);
  });

  it('a closed client refuses calls', async () => {
    const { client } = makeClient(up.url);
    await client.close();
    const error = await failure(client.submit(request));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(up.requests).toHaveLength(0);
  });
});

describe('retries', () => {
  it('a status read that gets 503 then 200 succeeds with 2 requests', async () => {
    const { client, logs } = makeClient(up.url);
    up.setTask(4, { status: 'PROCESSING' });
    up.enqueue({ status: 503, body: claidErrorBody('busy') });
    const task = await client.getTask(4);
    expect(task.status).toBe('PROCESSING');
    expect(up.requests).toHaveLength(2);
    expect(callLines(logs).map((l) => [l.attempt, l.httpStatus, l.code])).toEqual([
      [1, 503, 'UPSTREAM_UNAVAILABLE'],
      [2, 200, undefined],
    ]);
  });

  it.each([
    ['a timeout', { hang: true }],
    ['a dropped connection', { destroy: true }],
    ['an HTML page', { status: 200, body: '<html></html>', headers: { 'content-type': 'text/html' } }],
  ])('a status read is retried after %s', async (_name, reply) => {
    const { client } = makeClient(up.url, { timeoutMs: 300 });
    up.setTask(4, { status: 'WAITING' });
    up.enqueue(reply);
    expect((await client.getTask(4)).status).toBe('WAITING');
    expect(up.requests).toHaveLength(2);
  });

  it('429 with RateLimit-Reset: 1 then 200 waits about a second', async () => {
    const { client, logs } = makeClient(up.url);
    up.setTask(4, { status: 'PROCESSING' });
    up.enqueue(rateLimitedReply(1));
    const started = Date.now();
    await client.getTask(4);
    const elapsed = Date.now() - started;
    expect(up.requests).toHaveLength(2);
    const gap = up.requests[1]!.at - up.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(1600);
    expect(elapsed).toBeLessThan(2000);
    expect(callLines(logs)[0]).toMatchObject({ httpStatus: 429, code: 'UPSTREAM_RATE_LIMITED' });
  });

  it('retries exhausted -> UPSTREAM_UNAVAILABLE after retries + 1 requests', async () => {
    const { client, budget } = makeClient(up.url, { retries: 2 });
    up.setDefault(() => ({ status: 503, body: claidErrorBody('down for maintenance') }));
    const error = await failure(client.getTask(4));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.extensions.upstream).toMatchObject({ httpStatus: 503, errorMessage: 'down for maintenance' });
    expect(up.requests).toHaveLength(3);
    expect(budget.acquired).toEqual(['read', 'read', 'read']);
  });

  it('retries: 0 makes exactly one request', async () => {
    const { client } = makeClient(up.url, { retries: 0 });
    up.setDefault(() => ({ status: 500 }));
    await failure(client.getTask(4));
    expect(up.requests).toHaveLength(1);
  });

  it('a submit that gets 503 is not retried', async () => {
    const { client } = makeClient(up.url, { retries: 3 });
    up.enqueue({ status: 503, body: claidErrorBody('busy') });
    const error = await failure(client.submit(request));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(up.requests).toHaveLength(1);
    expect(up.tasks.size).toBe(0);
  });

  it('a submit that hangs is not retried', async () => {
    const { client } = makeClient(up.url, { retries: 3, timeoutMs: 300 });
    up.enqueue({ hang: true });
    const error = await failure(client.submit(request));
    expect(error.message).toBe('Claid did not answer within 300 ms');
    await new Promise((r) => setTimeout(r, 600));
    expect(up.requests).toHaveLength(1);
  });

  it('a submit answered 2xx with garbage is not retried (the task may exist upstream)', async () => {
    const { client } = makeClient(up.url, { retries: 3 });
    up.enqueue({ body: { unexpected: true } });
    await failure(client.submit(request));
    expect(up.requests).toHaveLength(1);
  });

  it('a submit to a closed port is retried (the request was never sent) and then fails', async () => {
    const port = await closedPort();
    const { client, budget, logs } = makeClient(`http://127.0.0.1:${port}`, { retries: 2 });
    const error = await failure(client.submit(request));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toBe('Could not reach Claid: ECONNREFUSED');
    expect(budget.acquired).toEqual(['submit', 'submit', 'submit']);
    expect(budget.observed.every((o) => o.httpStatus === null)).toBe(true);
    expect(callLines(logs).map((l) => l.reason)).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
  });

  it('a submit refused once succeeds when the upstream comes up', async () => {
    const port = await closedPort();
    let late: TestUpstream | undefined;
    const { client, budget } = makeClient(`http://127.0.0.1:${port}`, { retries: 2 });
    budget.onAcquire = async (n) => {
      if (n === 2) late = await startTestUpstream({ port });
    };
    try {
      const task = await client.submit(request);
      expect(task.upstreamId).toBe(1);
      expect(late?.requests).toHaveLength(1);
      expect(budget.acquired).toHaveLength(2);
    } finally {
      await client.close();
      await late?.close();
    }
  });

  it('close() lets a call in flight finish', async () => {
    const { client } = makeClient(up.url);
    up.enqueue({ delayMs: 200, body: claidData(claidTask({ id: 12 })) });
    const pending = client.submit(request);
    await up.waitForRequests(1);
    await client.close();
    expect((await pending).upstreamId).toBe(12);
  });

  it('close() abandons a pending rate-limit wait', async () => {
    const { client } = makeClient(up.url);
    up.enqueue(rateLimitedReply(20));
    const pending = failure(client.getTask(4));
    await up.waitForRequests(1);
    const started = Date.now();
    await client.close();
    const error = await pending;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(up.requests).toHaveLength(1);
  });
});

describe('the API key stays secret', () => {
  it('is redacted even when the upstream echoes it', async () => {
    const { client, logs } = makeClient(up.url, { retries: 0 });
    up.enqueue({ status: 401, body: claidErrorBody(`Invalid API key ${API_KEY}.`, '0001', 'auth') });
    const error = await failure(client.submit(request));
    expect(error.code).toBe('UPSTREAM_UNAUTHORIZED');
    expect(error.extensions.upstream).toMatchObject({ errorMessage: 'Invalid API key [redacted].' });
    expect(up.requests[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(callLines(logs)).toHaveLength(1);
  });

  it('appears in no error and no log line of this whole file', () => {
    // Runs last: every scenario above pushed its thrown errors and log lines here.
    expect(allErrors.length).toBeGreaterThan(20);
    expect(allLogLines.length).toBeGreaterThan(20);
    for (const err of allErrors) {
      const e = err as UpstreamError;
      const text = JSON.stringify({ message: e.message, stack: e.stack, extensions: e.extensions, own: e });
      expect(text).not.toContain(API_KEY);
      expect(text.toLowerCase()).not.toContain('bearer');
    }
    for (const line of allLogLines) {
      expect(line).not.toContain(API_KEY);
      expect(line.toLowerCase()).not.toContain('authorization');
    }
  });
});

describe('header parsing', () => {
  it('takes the first integer of a RateLimit header', () => {
    expect(firstInteger('1')).toBe(1);
    expect(firstInteger('4, 120;w=60, 4;w=1')).toBe(4);
    expect(firstInteger('-1')).toBe(-1);
    expect(firstInteger(['30', '60'])).toBe(30);
    expect(firstInteger('soon')).toBeNull();
    expect(firstInteger(undefined)).toBeNull();
  });

  it('reads Retry-After as seconds or an HTTP date, else RateLimit-Reset', () => {
    const now = Date.parse('2025-03-13T12:00:00Z');
    expect(parseRetryAfterSeconds({ 'retry-after': '5' }, now)).toBe(5);
    expect(parseRetryAfterSeconds({ 'retry-after': 'Thu, 13 Mar 2025 12:00:30 GMT' }, now)).toBe(30);
    expect(parseRetryAfterSeconds({ 'retry-after': 'Thu, 13 Mar 2025 11:00:00 GMT' }, now)).toBe(0);
    expect(parseRetryAfterSeconds({ 'ratelimit-reset': '1, 60' }, now)).toBe(1);
    expect(parseRetryAfterSeconds({}, now)).toBeUndefined();
  });

  it('reads the three error body shapes and refuses the rest', () => {
    expect(parseClaidErrorBody(JSON.stringify(claidErrorBody('m', 'c', 't')))).toEqual({
      errorCode: 'c',
      errorType: 't',
      errorMessage: 'm',
    });
    expect(parseClaidErrorBody(JSON.stringify(claidDetailErrorBody('m', 'c', 't')))).toEqual({
      errorCode: 'c',
      errorType: 't',
      errorMessage: 'm',
    });
    expect(
      parseClaidErrorBody(JSON.stringify(fastApiValidationBody([{ loc: ['body'], msg: 'bad', type: 'x' }]))),
    ).toEqual({
      errorCode: 'x',
      errorType: 'validation',
      errorMessage: 'body: bad',
    });
    expect(parseClaidErrorBody('')).toBeNull();
    expect(parseClaidErrorBody('<html></html>')).toBeNull();
    expect(parseClaidErrorBody('[1,2]')).toBeNull();
    expect(parseClaidErrorBody('{"unrelated":true}')).toBeNull();
  });
});
