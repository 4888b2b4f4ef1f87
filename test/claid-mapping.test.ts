import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../src/domain/errors.js';
import type { AiEditRequest } from '../src/domain/job.js';
import { createLogger } from '../src/lib/logger.js';
import { type ClaidClient, createClaidClient } from '../src/services/upstream/claid-client.js';
import { fromClaidTask, toClaidRequestBody } from '../src/services/upstream/claid-mapping.js';
import { claidData, claidTask, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

const fullRequest: AiEditRequest = {
  input: 'storage://my-bucket/in/photo.png',
  output: { destination: 'storage://my-bucket/out/result.jpg', format: 'jpeg', numberOfImages: 3 },
  options: { prompt: 'add a duck', model: 'v1', aspectRatio: '16:9', inferenceSteps: 30, guidanceScale: 4.5 },
};

const fullBody = {
  input: 'storage://my-bucket/in/photo.png',
  output: { destination: 'storage://my-bucket/out/result.jpg', format: 'jpeg', number_of_images: 3 },
  options: { prompt: 'add a duck', model: 'v1', aspect_ratio: '16:9', inference_steps: 30, guidance_scale: 4.5 },
};

describe('toClaidRequestBody', () => {
  it('maps every field to snake_case', () => {
    expect(toClaidRequestBody(fullRequest)).toStrictEqual(fullBody);
  });

  it('sends only what the caller gave', () => {
    expect(toClaidRequestBody({ input: 'https://x.test/a.png', options: { prompt: 'add a duck' } })).toStrictEqual({
      input: 'https://x.test/a.png',
      options: { prompt: 'add a duck' },
    });
    expect(
      toClaidRequestBody({
        input: 'https://x.test/a.png',
        output: { format: 'png' },
        options: { prompt: 'abc', model: 'v2' },
      }),
    ).toStrictEqual({
      input: 'https://x.test/a.png',
      output: { format: 'png' },
      options: { prompt: 'abc', model: 'v2' },
    });
  });

  it('leaves out an output object with no fields set', () => {
    const body = toClaidRequestBody({ input: 'https://x.test/a.png', output: {}, options: { prompt: 'abc' } });
    expect(body).not.toHaveProperty('output');
    const withUndefined = toClaidRequestBody({
      input: 'https://x.test/a.png',
      output: { destination: undefined },
      options: { prompt: 'abc', model: undefined },
    } as AiEditRequest);
    expect(JSON.parse(JSON.stringify(withUndefined))).toStrictEqual({
      input: 'https://x.test/a.png',
      options: { prompt: 'abc' },
    });
  });
});

const fullResultTask = {
  id: 42,
  status: 'DONE',
  created_at: '2025-03-13T11:37:09.160554+00:00',
  request: { input: 'https://picsum.photos/500', options: { prompt: 'add a duck' } },
  unknown_future_field: { anything: true },
  errors: [
    { error: 'first try failed', created_at: '2025-03-13T11:38:00+00:00' },
    { error: 'integer timestamp', created_at: 1741866000 },
    { error: 'millisecond timestamp', created_at: 1741866000123 },
  ],
  result: {
    input_object: { ext: 'jpeg', mps: 0.25, mime: 'image/jpeg', format: 'JPEG', width: 500, height: 500, extra: 1 },
    output_objects: [
      {
        ext: 'png',
        mps: 1.048576,
        mime: 'image/png',
        format: 'PNG',
        width: 1024,
        height: 1024,
        tmp_url: 'https://dl.claid.ai/out/0.png',
        object_key: 'out/result.png',
        object_bucket: 'my-bucket',
        object_uri: 'gs://my-bucket/out/result.png',
        claid_storage_uri: 'storage://my-bucket/out/result.png',
      },
      { ext: 'png', tmp_url: 'https://dl.claid.ai/out/1.png', object_key: null },
    ],
  },
};

describe('fromClaidTask', () => {
  it('maps every result and error field to the domain', () => {
    expect(fromClaidTask(fullResultTask)).toStrictEqual({
      upstreamId: 42,
      status: 'DONE',
      createdAt: new Date('2025-03-13T11:37:09.160Z'),
      errors: [
        { message: 'first try failed', createdAt: new Date('2025-03-13T11:38:00Z') },
        { message: 'integer timestamp', createdAt: new Date(1741866000 * 1000) },
        { message: 'millisecond timestamp', createdAt: new Date(1741866000123) },
      ],
      // The echoed request stays in Claid's wire format: the refresher compares it with what the job sent.
      request: { input: 'https://picsum.photos/500', options: { prompt: 'add a duck' } },
      result: {
        inputObject: { ext: 'jpeg', mps: 0.25, mime: 'image/jpeg', format: 'JPEG', width: 500, height: 500 },
        outputObjects: [
          {
            ext: 'png',
            mps: 1.048576,
            mime: 'image/png',
            format: 'PNG',
            width: 1024,
            height: 1024,
            tmpUrl: 'https://dl.claid.ai/out/0.png',
            objectKey: 'out/result.png',
            objectBucket: 'my-bucket',
            objectUri: 'gs://my-bucket/out/result.png',
            claidStorageUri: 'storage://my-bucket/out/result.png',
          },
          // Absent and null optional fields stay absent.
          { ext: 'png', tmpUrl: 'https://dl.claid.ai/out/1.png' },
        ],
      },
    });
  });

  it('reads a submit answer (no errors, no result) and treats an empty result as none', () => {
    const accepted = fromClaidTask({
      id: 1,
      status: 'ACCEPTED',
      result_url: 'https://api.claid.ai/v1/image/ai-edit/1',
      created_at: '2025-03-13T11:37:09.160554+00:00',
      request: {},
    });
    expect(accepted).toStrictEqual({
      upstreamId: 1,
      status: 'ACCEPTED',
      createdAt: new Date('2025-03-13T11:37:09.160Z'),
      errors: [],
      result: null,
      request: {},
    });
    const failed = fromClaidTask({ ...claidTask({ id: 2, status: 'ERROR' }), errors: null, result: {} });
    expect(failed.result).toBeNull();
    expect(failed.errors).toEqual([]);
  });

  it('reads a zone-less date as UTC', () => {
    expect(fromClaidTask(claidTask({ id: 3, created_at: '2025-03-13T11:37:09.5' })).createdAt).toEqual(
      new Date('2025-03-13T11:37:09.500Z'),
    );
  });

  it.each([
    ['an unknown status', { ...claidTask({ id: 1 }), status: 'EXPLODED' }, 'status'],
    ['a missing id', { status: 'DONE', created_at: '2025-03-13T11:37:09Z' }, 'id'],
    ['a bad date', claidTask({ id: 1, created_at: 'yesterday' }), 'created_at'],
    ['a malformed result', { ...claidTask({ id: 1 }), result: { input_object: 5 } }, 'result'],
    ['not an object', 'DONE', 'data'],
  ])('refuses %s as UPSTREAM_UNAVAILABLE', (_name, data, where) => {
    let thrown: unknown;
    try {
      fromClaidTask(data);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UpstreamError);
    const error = thrown as UpstreamError;
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toContain("not Claid's JSON");
    expect(error.message).toContain(where);
  });
});

describe('mapping through the real client', () => {
  let up: TestUpstream;
  let client: ClaidClient;

  beforeAll(async () => {
    up = await startTestUpstream();
    client = createClaidClient({
      baseUrl: up.url,
      apiKey: 'mapping-test-key',
      timeoutMs: 2000,
      retries: 0,
      logger: createLogger('silent'),
    });
  });
  afterAll(async () => {
    await client.close();
    await up.close();
  });
  beforeEach(() => up.reset());

  it('sends exactly the snake_case body for a request with every field', async () => {
    const task = await client.submit(fullRequest);
    expect(task).toMatchObject({ upstreamId: 1, status: 'ACCEPTED', errors: [], result: null });
    expect(up.requests).toHaveLength(1);
    const [recorded] = up.requests;
    expect(recorded?.method).toBe('POST');
    expect(recorded?.path).toBe('/v1/image/ai-edit');
    expect(recorded?.headers['content-type']).toBe('application/json');
    expect(recorded?.body).toStrictEqual(fullBody);
  });

  it('sends only input and options.prompt for a minimal request', async () => {
    await client.submit({ input: 'https://picsum.photos/500', options: { prompt: 'add a duck' } });
    expect(up.requests[0]?.rawBody).toBe('{"input":"https://picsum.photos/500","options":{"prompt":"add a duck"}}');
  });

  it('maps a DONE answer with every field back', async () => {
    up.enqueue({ body: claidData(fullResultTask) });
    const task = await client.getTask(42);
    expect(up.requests[0]?.path).toBe('/v1/image/ai-edit/42');
    expect(task).toStrictEqual(fromClaidTask(fullResultTask));
    expect(task.result?.outputObjects[0]?.claidStorageUri).toBe('storage://my-bucket/out/result.png');
  });
});
