import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { captureLogger, gql, READ, readUntilFinal, SUBMIT, startTestGateway } from './support/gateway.js';
import {
  claidDetailErrorBody,
  claidErrorBody,
  claidResult,
  fastApiValidationBody,
  SUBMIT_PATH,
  startTestUpstream,
  type TestUpstream,
} from './support/test-upstream.js';

const API_KEY = 'sk-live-VERY-SECRET-KEY-4242';
const INPUT = 'https://images.example.com/room.jpg';

let upstream: TestUpstream;
let gateway: Gateway;
const logs = captureLogger('trace');

beforeAll(async () => {
  upstream = await startTestUpstream({ apiKey: API_KEY });
  gateway = await startTestGateway({
    env: {
      CLAID_API_KEY: API_KEY,
      CLAID_API_URL: upstream.url,
      UPSTREAM_TIMEOUT_MS: '400',
      UPSTREAM_RETRIES: '1',
      POLL_INTERVAL_MS: '50',
    },
    logger: logs.logger,
  });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
});
beforeEach(() => upstream.reset());

const SUBMIT_WITH_POSITION = /* GraphQL */ `
  mutation ($input: SubmitAiEditInput!) { submitAiEdit(input: $input) { job { id status upstreamId queuePosition } } }
`;

const submitInput = (overrides: Record<string, unknown> = {}) => ({
  input: INPUT,
  options: { prompt: 'add a duck' },
  ...overrides,
});

describe('submitAiEdit mapping', () => {
  it('sends every option and output field in snake_case, and maps every result field back', async () => {
    const res = await gql(gateway, SUBMIT, {
      input: {
        input: INPUT,
        output: { destination: 'storage://my-bucket/out/edit.jpg', format: 'JPEG', numberOfImages: 2 },
        options: {
          prompt: 'add a duck',
          model: 'V1',
          aspectRatio: 'RATIO_16_9',
          inferenceSteps: 30,
          guidanceScale: 4.5,
        },
        clientMutationId: 'm-1',
      },
    });
    expect(res.errors).toBeUndefined();
    const [post] = upstream.requestsTo('POST', SUBMIT_PATH);
    expect(post!.body).toEqual({
      input: INPUT,
      output: { destination: 'storage://my-bucket/out/edit.jpg', format: 'jpeg', number_of_images: 2 },
      options: { prompt: 'add a duck', model: 'v1', aspect_ratio: '16:9', inference_steps: 30, guidance_scale: 4.5 },
    });
    expect(post!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    const payload = res.data!.submitAiEdit;
    expect(payload.clientMutationId).toBe('m-1');
    expect(payload.job).toMatchObject({
      status: 'ACCEPTED',
      isFinal: false,
      result: null,
      errors: [],
      request: {
        input: INPUT,
        output: { destination: 'storage://my-bucket/out/edit.jpg', format: 'JPEG', numberOfImages: 2 },
        options: {
          prompt: 'add a duck',
          model: 'V1',
          aspectRatio: 'RATIO_16_9',
          inferenceSteps: 30,
          guidanceScale: 4.5,
        },
      },
    });
    // QUEUED: recorded by the gateway before Claid was called (the job survives a crash during the call).
    expect(payload.job.history.map((h: { status: string }) => h.status)).toEqual(['QUEUED', 'ACCEPTED']);

    const upstreamId = payload.job.upstreamId as number;
    const result = claidResult(2, {
      tmp_url: 'https://dl.example.com/out.jpg',
      object_key: 'out/edit.jpg',
      object_bucket: 'my-bucket',
      object_uri: 'gs://my-bucket/out/edit.jpg',
      claid_storage_uri: 'storage://my-bucket/out/edit.jpg',
    });
    upstream.setTask(upstreamId, { status: 'DONE', result });
    await new Promise((r) => setTimeout(r, 80));
    const read = await gql(gateway, READ, { id: payload.job.id });
    const job = read.data!.aiEditJob;
    expect(job.status).toBe('DONE');
    expect(job.isFinal).toBe(true);
    expect(job.history.map((h: { status: string }) => h.status)).toEqual(['QUEUED', 'ACCEPTED', 'DONE']);
    const input = result.input_object;
    expect(job.result.inputObject).toEqual({
      ext: input.ext,
      mps: input.mps,
      mime: input.mime,
      format: input.format,
      width: input.width,
      height: input.height,
    });
    expect(job.result.outputObjects).toHaveLength(2);
    const out = result.output_objects[0]!;
    expect(out.object_key).toBe('out/edit.jpg');
    expect(job.result.outputObjects[0]).toMatchObject({
      ext: out.ext,
      mps: out.mps,
      mime: out.mime,
      format: out.format,
      width: out.width,
      height: out.height,
      tmpUrl: out.tmp_url,
      objectKey: out.object_key,
      objectBucket: out.object_bucket,
      objectUri: out.object_uri,
      claidStorageUri: out.claid_storage_uri,
    });
    const expiresAt = Date.parse(job.result.outputObjects[0].expiresAt);
    expect(expiresAt - Date.parse(job.updatedAt)).toBe(24 * 60 * 60 * 1000);
  });

  it('sends only the fields the caller gave', async () => {
    const res = await gql(gateway, SUBMIT, { input: submitInput() });
    expect(res.errors).toBeUndefined();
    expect(upstream.requestsTo('POST', SUBMIT_PATH)[0]!.rawBody).toBe(
      JSON.stringify({ input: INPUT, options: { prompt: 'add a duck' } }),
    );
    expect(res.data!.submitAiEdit.job.request.output).toBeNull();
  });

  it('maps upstream task errors back', async () => {
    const res = await gql(gateway, SUBMIT, { input: submitInput() });
    const { id, upstreamId } = res.data!.submitAiEdit.job;
    upstream.setTask(upstreamId, {
      status: 'ERROR',
      errors: [{ error: 'Input image could not be downloaded', created_at: '2025-03-13T11:37:09.160554+00:00' }],
    });
    await new Promise((r) => setTimeout(r, 80)); // older than POLL_INTERVAL_MS, so the read refreshes it
    const job = (await gql(gateway, READ, { id })).data!.aiEditJob;
    expect(job.status).toBe('ERROR');
    expect(job.errors).toEqual([
      { message: 'Input image could not be downloaded', createdAt: '2025-03-13T11:37:09.160Z' },
    ]);
    expect(job.result).toBeNull();
  });
});

describe('submit validation', () => {
  it.each([
    ['prompt too short', submitInput({ options: { prompt: 'ab' } }), 'input.options.prompt'],
    ['prompt too long', submitInput({ options: { prompt: 'x'.repeat(5001) } }), 'input.options.prompt'],
    ['input not a URL', submitInput({ input: 'room.jpg' }), 'input.input'],
    ['input scheme', submitInput({ input: 'file:///etc/passwd' }), 'input.input'],
    ['input too long', submitInput({ input: `https://e.com/${'a'.repeat(4100)}` }), 'input.input'],
    ['destination scheme', submitInput({ output: { destination: 'ftp://x/y' } }), 'input.output.destination'],
    [
      'destination too long',
      submitInput({ output: { destination: `https://e.com/${'a'.repeat(4100)}` } }),
      'input.output.destination',
    ],
    ['numberOfImages 0', submitInput({ output: { numberOfImages: 0 } }), 'input.output.numberOfImages'],
    ['numberOfImages 5', submitInput({ output: { numberOfImages: 5 } }), 'input.output.numberOfImages'],
    [
      'inferenceSteps 0',
      submitInput({ options: { prompt: 'add a duck', model: 'V1', inferenceSteps: 0 } }),
      'input.options.inferenceSteps',
    ],
    [
      'inferenceSteps 51',
      submitInput({ options: { prompt: 'add a duck', model: 'V1', inferenceSteps: 51 } }),
      'input.options.inferenceSteps',
    ],
    [
      'guidanceScale 0.9',
      submitInput({ options: { prompt: 'add a duck', model: 'V1', guidanceScale: 0.9 } }),
      'input.options.guidanceScale',
    ],
    [
      'guidanceScale 11',
      submitInput({ options: { prompt: 'add a duck', model: 'V1', guidanceScale: 11 } }),
      'input.options.guidanceScale',
    ],
    [
      'aspectRatio with V2',
      submitInput({ options: { prompt: 'add a duck', model: 'V2', aspectRatio: 'RATIO_1_1' } }),
      'input.options.aspectRatio',
    ],
    [
      'inferenceSteps without model',
      submitInput({ options: { prompt: 'add a duck', inferenceSteps: 10 } }),
      'input.options.inferenceSteps',
    ],
    [
      'guidanceScale without model',
      submitInput({ options: { prompt: 'add a duck', guidanceScale: 2 } }),
      'input.options.guidanceScale',
    ],
    ['empty idempotencyKey', submitInput({ idempotencyKey: '' }), 'input.idempotencyKey'],
    ['idempotencyKey too long', submitInput({ idempotencyKey: 'k'.repeat(256) }), 'input.idempotencyKey'],
    ['idempotencyKey with a NUL', submitInput({ idempotencyKey: 'a\u0000b' }), 'input.idempotencyKey'],
  ])('refuses %s with BAD_USER_INPUT and no upstream call', async (_name, input, field) => {
    const res = await gql(gateway, SUBMIT, { input });
    expect(res.data ?? null).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('upstream failures', () => {
  it.each([
    [401, claidErrorBody('Authorization is required.', '1001', 'auth'), 'UPSTREAM_UNAUTHORIZED', {}],
    [402, claidErrorBody('No API calls left.', '3001', 'billing'), 'UPSTREAM_PAYMENT_REQUIRED', {}],
    [403, claidErrorBody('Not enough permissions.', '1003', 'auth'), 'UPSTREAM_FORBIDDEN', {}],
    [422, claidErrorBody('Image URL is invalid.', '4001', 'validation'), 'UPSTREAM_VALIDATION', {}],
    [
      422,
      fastApiValidationBody([{ loc: ['body', 'input'], msg: 'invalid url', type: 'value_error' }]),
      'UPSTREAM_VALIDATION',
      {},
    ],
    [500, claidErrorBody('Internal error'), 'UPSTREAM_UNAVAILABLE', {}],
    [
      502,
      '<html><body><h1>502 Bad Gateway</h1></body></html>',
      'UPSTREAM_UNAVAILABLE',
      { 'content-type': 'text/html' },
    ],
  ] as const)('HTTP %i on submit gives its code', async (status, body, code, headers) => {
    upstream.enqueue({ status, body, headers: { ...headers, 'x-request-id': 'req-abc' } });
    const res = await gql(gateway, SUBMIT, { input: submitInput() });
    expect(res.errors![0]!.extensions).toMatchObject({ code, upstream: { httpStatus: status, requestId: 'req-abc' } });
    if (status === 401)
      expect(res.errors![0]!.extensions!.upstream).toMatchObject({
        errorCode: '1001',
        errorType: 'auth',
        errorMessage: 'Authorization is required.',
      });
    expect(JSON.stringify(res)).not.toContain(API_KEY);
    expect(upstream.requests).toHaveLength(1);
  });

  it('a hang past the timeout is UPSTREAM_UNAVAILABLE and the submit is not retried', async () => {
    upstream.enqueue({ hang: true });
    const started = Date.now();
    const res = await gql(gateway, SUBMIT, { input: submitInput() });
    expect(res.errors![0]!.extensions!.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(upstream.requests).toHaveLength(1);
  });

  it('HTTP 429 on submit queues the job instead of failing; the queue sends it once the pause is over', async () => {
    const tooMany = {
      status: 429,
      body: claidDetailErrorBody('Too Many Requests. Rate limit exceeded.'),
      headers: { 'RateLimit-Reset': '1', 'RateLimit-Remaining': '-1', 'x-request-id': 'req-abc' },
    };
    // The caller's submit draws a 429, and so does the queue's first try: the job goes back to its place each time.
    upstream.enqueue(tooMany, { method: 'POST' });
    upstream.enqueue(tooMany, { method: 'POST' });
    const started = Date.now();
    const res = await gql(gateway, SUBMIT_WITH_POSITION, { input: submitInput() });
    expect(res.errors).toBeUndefined();
    const job = res.data!.submitAiEdit.job;
    expect(job).toMatchObject({ status: 'QUEUED', upstreamId: null, queuePosition: 1 });
    expect(Date.now() - started).toBeLessThan(1_000);
    let sent = (await gql(gateway, READ, { id: job.id })).data!.aiEditJob;
    for (const deadline = Date.now() + 10_000; sent.upstreamId === null && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      sent = (await gql(gateway, READ, { id: job.id })).data!.aiEditJob;
    }
    expect(sent).toMatchObject({ status: 'ACCEPTED', upstreamId: expect.any(Number) });
    expect(sent.history.map((h: { status: string }) => h.status)).toEqual(['QUEUED', 'ACCEPTED']);
    // Three POSTs in all: two refused, then one taken; each try waited for Claid's RateLimit-Reset.
    const posts = upstream.requestsTo('POST', SUBMIT_PATH);
    expect(posts).toHaveLength(3);
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(900);
    expect(posts[2]!.at - posts[1]!.at).toBeGreaterThanOrEqual(900);
  });

  it('never shows the API key in a response or a log line', () => {
    expect(logs.lines.length).toBeGreaterThan(10);
    expect(logs.text()).not.toContain(API_KEY);
    expect(logs.text()).toMatch(/"httpStatus":429/);
  });
});

describe('idempotency', () => {
  it('returns the first job for a repeated key without a second upstream call', async () => {
    const input = submitInput({ idempotencyKey: 'order-1' });
    const first = await gql(gateway, SUBMIT, { input });
    const second = await gql(gateway, SUBMIT, { input });
    expect(second.data!.submitAiEdit.job.id).toBe(first.data!.submitAiEdit.job.id);
    expect(upstream.requestsTo('POST')).toHaveLength(1);
  });

  it('refuses the same key with a different request', async () => {
    await gql(gateway, SUBMIT, { input: submitInput({ idempotencyKey: 'order-2' }) });
    const res = await gql(gateway, SUBMIT, {
      input: submitInput({ idempotencyKey: 'order-2', options: { prompt: 'add a goose' } }),
    });
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(upstream.requestsTo('POST')).toHaveLength(1);
  });

  it('two concurrent identical submits make one upstream POST', async () => {
    upstream.enqueue(
      async (req) => {
        await new Promise((r) => setTimeout(r, 150));
        return upstream.fakeClaid(req);
      },
      { method: 'POST' },
    );
    const input = submitInput({ idempotencyKey: 'order-3' });
    const results = await Promise.all([1, 2, 3].map(() => gql(gateway, SUBMIT, { input })));
    const ids = new Set(results.map((r) => r.data!.submitAiEdit.job.id));
    expect(ids.size).toBe(1);
    expect(upstream.requestsTo('POST')).toHaveLength(1);
  });

  it('frees the key when the submit failed, so a retry with it works', async () => {
    upstream.enqueue({ status: 503, body: claidErrorBody('down') }, { method: 'POST' });
    const input = submitInput({ idempotencyKey: 'order-4' });
    expect((await gql(gateway, SUBMIT, { input })).errors![0]!.extensions!.code).toBe('UPSTREAM_UNAVAILABLE');
    const retry = await gql(gateway, SUBMIT, { input });
    expect(retry.errors).toBeUndefined();
    expect(upstream.requestsTo('POST')).toHaveLength(2);
  });
});

describe('reads', () => {
  it('one request naming the same job five times makes one upstream read', async () => {
    const { id } = (await gql(gateway, SUBMIT, { input: submitInput() })).data!.submitAiEdit.job;
    await new Promise((r) => setTimeout(r, 80)); // older than POLL_INTERVAL_MS, so it is refreshed
    upstream.reset();
    const res = await gql(
      gateway,
      `query($id: ID!) { a: aiEditJob(id: $id) { status } b: aiEditJob(id: $id) { status } c: aiEditJob(id: $id) { status }
        d: node(id: $id) { id } e: aiEditJob(id: $id) { status } }`,
      { id },
    );
    expect(res.errors).toBeUndefined();
    expect(upstream.requestsTo('GET')).toHaveLength(1);
  });

  it('concurrent requests share one in-flight upstream read', async () => {
    const { id, upstreamId } = (await gql(gateway, SUBMIT, { input: submitInput() })).data!.submitAiEdit.job;
    await new Promise((r) => setTimeout(r, 80));
    // The reset forgets requests and tasks; the task comes back with the request the job sent.
    const { request } = upstream.tasks.get(upstreamId)!;
    upstream.reset();
    upstream.setTask(upstreamId, { status: 'PROCESSING', request });
    upstream.enqueue(
      async (req) => {
        await new Promise((r) => setTimeout(r, 150));
        return upstream.fakeClaid(req);
      },
      { method: 'GET' },
    );
    const results = await Promise.all([1, 2, 3, 4].map(() => gql(gateway, READ, { id })));
    expect(results.map((r) => r.data!.aiEditJob.status)).toEqual([
      'PROCESSING',
      'PROCESSING',
      'PROCESSING',
      'PROCESSING',
    ]);
    expect(upstream.requestsTo('GET')).toHaveLength(1);
  });

  it('a late answer never moves a status backwards', async () => {
    const { id, upstreamId } = (await gql(gateway, SUBMIT, { input: submitInput() })).data!.submitAiEdit.job;
    upstream.setTask(upstreamId, { status: 'DONE', result: claidResult(1) });
    await new Promise((r) => setTimeout(r, 80));
    expect((await gql(gateway, READ, { id })).data!.aiEditJob.status).toBe('DONE');
    upstream.setTask(upstreamId, { status: 'PROCESSING' });
    await new Promise((r) => setTimeout(r, 80));
    expect((await gql(gateway, READ, { id })).data!.aiEditJob.status).toBe('DONE');
  });

  it('an upstream failure during a refresh serves the stored state', async () => {
    const { id } = (await gql(gateway, SUBMIT, { input: submitInput() })).data!.submitAiEdit.job;
    await new Promise((r) => setTimeout(r, 80));
    upstream.enqueue({ status: 500, body: claidErrorBody('down') }, { method: 'GET' });
    upstream.enqueue({ status: 500, body: claidErrorBody('down') }, { method: 'GET' });
    const res = await gql(gateway, READ, { id });
    expect(res.errors).toBeUndefined();
    expect(res.data!.aiEditJob.status).toBe('ACCEPTED');
  });

  it('an unknown or malformed id', async () => {
    const unknown = Buffer.from('AiEditJob:00000000-0000-4000-8000-000000000000').toString('base64');
    expect((await gql(gateway, READ, { id: unknown })).data!.aiEditJob).toBeNull();
    const otherType = Buffer.from('Other:1').toString('base64');
    expect((await gql(gateway, READ, { id: otherType })).data!.aiEditJob).toBeNull();
    const malformed = await gql(gateway, READ, { id: '%%%' });
    expect(malformed.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
  });
});

describe('aiEditJobs', () => {
  it('lists newest first with cursor pagination both ways and a status filter', async () => {
    const ids: string[] = [];
    const upstreamIds: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await gql(gateway, SUBMIT, { input: submitInput({ options: { prompt: `edit number ${i}` } }) });
      ids.push(res.data!.submitAiEdit.job.id);
      upstreamIds.push(res.data!.submitAiEdit.job.upstreamId);
    }
    const newest = [...ids].reverse();
    const LIST = `query($first: Int, $after: String, $last: Int, $before: String, $status: [AiEditJobStatus!]) {
      aiEditJobs(first: $first, after: $after, last: $last, before: $before, status: $status) {
        edges { cursor node { id status } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`;
    const all = (await gql(gateway, LIST, { first: 100 })).data!.aiEditJobs;
    const listed = all.edges.map((e: { node: { id: string } }) => e.node.id) as string[];
    expect(listed.slice(0, 5)).toEqual(newest);

    const page1 = (await gql(gateway, LIST, { first: 2 })).data!.aiEditJobs;
    expect(page1.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(newest.slice(0, 2));
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await gql(gateway, LIST, { first: 2, after: page1.pageInfo.endCursor })).data!.aiEditJobs;
    expect(page2.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(newest.slice(2, 4));

    const back = (await gql(gateway, LIST, { last: 2, before: page2.pageInfo.endCursor })).data!.aiEditJobs;
    expect(back.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(newest.slice(1, 3));
    expect(back.pageInfo.hasPreviousPage).toBe(true);

    // One of the five finishes DONE and one ERROR; the filter must list exactly those of the five.
    upstream.setTask(upstreamIds[1]!, { status: 'DONE', result: claidResult(1) });
    upstream.setTask(upstreamIds[3]!, {
      status: 'ERROR',
      errors: [{ error: 'Input image could not be downloaded', created_at: '2025-03-13T11:37:09.160554+00:00' }],
    });
    expect((await readUntilFinal(gateway, ids[1]!)).status).toBe('DONE');
    expect((await readUntilFinal(gateway, ids[3]!)).status).toBe('ERROR');
    const done = (await gql(gateway, LIST, { first: 100, status: ['DONE', 'ERROR'] })).data!.aiEditJobs;
    expect(done.edges.every((e: { node: { status: string } }) => ['DONE', 'ERROR'].includes(e.node.status))).toBe(true);
    const finished = done.edges.map((e: { node: { id: string } }) => e.node.id) as string[];
    expect(finished.filter((id) => ids.includes(id))).toEqual([ids[3], ids[1]]);
    const errored = (await gql(gateway, LIST, { first: 100, status: ['ERROR'] })).data!.aiEditJobs;
    expect(errored.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(ids[3]);
    expect(errored.edges.map((e: { node: { id: string } }) => e.node.id)).not.toContain(ids[1]);
  });

  it('refuses a forged cursor and an oversized page', async () => {
    const LIST = `query($first: Int, $after: String) { aiEditJobs(first: $first, after: $after) { edges { cursor } } }`;
    expect((await gql(gateway, LIST, { after: 'bm90LWEtY3Vyc29y' })).errors![0]!.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'after',
    });
    expect((await gql(gateway, LIST, { first: 1000 })).errors![0]!.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'first',
    });
  });
});

describe('health', () => {
  it('/health says the process is up and /ready checks the store', async () => {
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    const ready = await fetch(`${gateway.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { store: 'ok' } });
  });
});
