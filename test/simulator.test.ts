import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp, { type Metadata } from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../src/simulator/server.js';

// The simulator over real loopback sockets: what a gateway (or curl) would see.

type Json = Record<string, any>;

let sim: Simulator;
let textServer: Server;
let textUrl: string;
let closedPort: number;

beforeAll(async () => {
  sim = await startSimulator({ stepMs: 50 });
  // a 200 answer that is not an image
  textServer = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('this is not an image');
  });
  await new Promise<void>((resolve) => textServer.listen(0, '127.0.0.1', resolve));
  textUrl = `http://127.0.0.1:${(textServer.address() as AddressInfo).port}/cat.jpg`;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  await sim?.close();
  await new Promise<void>((resolve) => (textServer ? textServer.close(() => resolve()) : resolve()));
});

beforeEach(() => {
  sim.control.reset();
  sim.control.setStepMs(50);
});

const auth = (key = sim.apiKey): Record<string, string> => ({ Authorization: `Bearer ${key}` });

async function submit(body: unknown, headers: Record<string, string> = auth()): Promise<Response> {
  return fetch(`${sim.url}/v1/image/ai-edit`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const read = (id: number | string, headers: Record<string, string> = auth()): Promise<Response> =>
  fetch(`${sim.url}/v1/image/ai-edit/${id}`, { headers });

async function submitOk(body: unknown): Promise<Json> {
  const res = await submit(body);
  expect(res.status).toBe(200);
  return ((await res.json()) as Json)['data'];
}

/** Polls every 10 ms until a final status; returns every status seen (submit's ACCEPTED first) and the last data. */
async function pollToFinal(id: number, timeoutMs = 10_000): Promise<{ statuses: string[]; data: Json }> {
  const statuses = ['ACCEPTED'];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await read(id);
    expect(res.status).toBe(200);
    const data = ((await res.json()) as Json)['data'];
    if (statuses.at(-1) !== data.status) statuses.push(data.status);
    if (['DONE', 'ERROR', 'CANCELLED'].includes(data.status)) return { statuses, data };
    if (Date.now() > deadline) throw new Error(`task ${id} still ${data.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function download(url: string): Promise<{ contentType: string | null; meta: Metadata; body: Buffer }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const body = Buffer.from(await res.arrayBuffer());
  return { contentType: res.headers.get('content-type'), meta: await sharp(body).metadata(), body };
}

describe('AI Edit flow', () => {
  it('v1 with aspect_ratio 16:9 makes 2 distinct 1360x768 JPEGs and walks ACCEPTED -> WAITING -> PROCESSING -> DONE', async () => {
    sim.control.setStepMs(150); // room for 10 ms polling to see every step
    const body = {
      input: sim.sampleUrl(),
      options: {
        model: 'v1',
        prompt: 'add a duck <on> the "sofa" & rug',
        aspect_ratio: '16:9',
        inference_steps: 30,
        guidance_scale: 4.5,
      },
      output: { format: 'jpeg', number_of_images: 2 },
    };
    const accepted = await submitOk(body);
    expect(accepted.status).toBe('ACCEPTED');
    expect(Number.isInteger(accepted.id)).toBe(true);
    expect(accepted.result_url).toBe(`${sim.url}/v1/image/ai-edit/${accepted.id}`);
    expect(accepted.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(accepted.request).toEqual(body);

    const { statuses, data } = await pollToFinal(accepted.id);
    expect(statuses).toEqual(['ACCEPTED', 'WAITING', 'PROCESSING', 'DONE']);
    expect(data.errors).toEqual([]);
    expect(data.request).toEqual(body);
    expect(data.result.input_object).toMatchObject({
      ext: 'jpg',
      mime: 'image/jpeg',
      format: 'JPEG',
      width: 1600,
      height: 1067,
    });

    const outputs: Json[] = data.result.output_objects;
    expect(outputs).toHaveLength(2);
    const bodies: Buffer[] = [];
    for (const [n, out] of outputs.entries()) {
      expect(out).toMatchObject({
        ext: 'jpg',
        mime: 'image/jpeg',
        format: 'JPEG',
        width: 1360,
        height: 768,
        mps: 1.04,
      });
      expect(out.tmp_url).toBe(`${sim.url}/outputs/${accepted.id}/${n}.jpg`);
      expect(out.object_key).toContain(`${accepted.id}`);
      expect(typeof out.object_bucket).toBe('string');
      const file = await download(out.tmp_url);
      expect(file.contentType).toBe('image/jpeg');
      expect(file.meta).toMatchObject({ format: 'jpeg', width: 1360, height: 768 });
      bodies.push(file.body);
    }
    expect(bodies[0]!.equals(bodies[1]!)).toBe(false);
  });

  it('v2 without a ratio keeps the portrait input ratio with a 2048 long side, PNG by default', async () => {
    const accepted = await submitOk({ input: sim.sampleUrl('portrait'), options: { prompt: 'make it sunny' } });
    const { data } = await pollToFinal(accepted.id);
    expect(data.status).toBe('DONE');
    expect(data.result.input_object).toMatchObject({ width: 800, height: 1200, format: 'JPEG' });
    const [out, ...rest] = data.result.output_objects as Json[];
    expect(rest).toHaveLength(0);
    expect(out).toMatchObject({ ext: 'png', mime: 'image/png', format: 'PNG', height: 2048 });
    expect(Math.abs(out!.width / out!.height - 800 / 1200)).toBeLessThan(0.01);
    const file = await download(out!.tmp_url);
    expect(file.contentType).toBe('image/png');
    expect(file.meta).toMatchObject({ format: 'png', width: out!.width, height: 2048 });
  });

  it('v1 without a ratio gives a 1024 long side; PNG when output gives no format; destination shapes object_uri', async () => {
    const accepted = await submitOk({
      input: sim.sampleUrl('square.png'),
      options: { model: 'v1', prompt: 'add a hat' },
      output: { number_of_images: 1, destination: 'storage://my-store/results/hat.jpg' },
    });
    const { data } = await pollToFinal(accepted.id);
    expect(data.result.input_object).toMatchObject({ ext: 'png', format: 'PNG', width: 1000, height: 1000 });
    const out = data.result.output_objects[0] as Json;
    expect(out).toMatchObject({
      ext: 'png',
      width: 1024,
      height: 1024,
      object_bucket: 'my-store',
      object_key: 'results/hat.png',
      object_uri: 'storage://my-store/results/hat.png',
      claid_storage_uri: 'storage://my-store/results/hat.png',
    });
    const file = await download(out.tmp_url);
    expect(file.meta).toMatchObject({ format: 'png', width: 1024, height: 1024 });
  });

  it('accepts output as a plain URI string, and a prompt full of XML specials and control characters', async () => {
    const accepted = await submitOk({
      input: sim.sampleUrl('square'),
      options: { model: 'v1', prompt: `<svg onload="x"> & ' \u0001\u0007 ]]> </text>`, aspect_ratio: '1:1' },
      output: 'storage://bucket/out/',
    });
    const { data } = await pollToFinal(accepted.id);
    expect(data.status).toBe('DONE');
    expect(data.result.output_objects[0]).toMatchObject({
      width: 1024,
      height: 1024,
      object_key: `out/${accepted.id}_0.png`,
    });
  });

  it('reports result null while running and never goes back once DONE', async () => {
    sim.control.setStepMs(10_000);
    const accepted = await submitOk({ input: sim.sampleUrl(), options: { prompt: 'slow one' } });
    const running = ((await (await read(accepted.id)).json()) as Json)['data'];
    expect(running).toMatchObject({ status: 'ACCEPTED', result: null, errors: [] });
    sim.control.setStepMs(0);
    const { data } = await pollToFinal(accepted.id);
    expect(data.status).toBe('DONE');
    sim.control.setStepMs(10_000);
    const again = ((await (await read(accepted.id)).json()) as Json)['data'];
    expect(again.status).toBe('DONE');
  });

  it('serves the sample inputs', async () => {
    const living = await download(sim.sampleUrl());
    expect(living.meta).toMatchObject({ format: 'jpeg', width: 1600, height: 1067 });
    const portrait = await download(sim.sampleUrl('portrait.jpg'));
    expect(portrait.meta).toMatchObject({ format: 'jpeg', width: 800, height: 1200 });
    const square = await download(sim.sampleUrl('square.png'));
    expect(square.contentType).toBe('image/png');
    expect(square.meta).toMatchObject({ format: 'png', width: 1000, height: 1000 });
    expect(() => sim.sampleUrl('nope')).toThrow(/available/);
  });
});

describe('input failures end the task in ERROR', () => {
  const cases: [string, () => string, RegExp][] = [
    [
      'an unreachable URL',
      () => 'http://127.0.0.1:1/x.jpg',
      /^Could not download the input image from http:\/\/127\.0\.0\.1:1\/x\.jpg: /,
    ],
    [
      'a refused connection',
      () => `http://127.0.0.1:${closedPort}/x.jpg`,
      /Could not download the input image .*ECONNREFUSED/,
    ],
    ['a non-image body', () => textUrl, /Invalid input image/],
    ['a 404 answer', () => `${sim.url}/samples/missing.jpg`, /HTTP 404/],
    ['a storage:// input', () => 'storage://my-s3/in/photo.jpg', /Storage 'my-s3' is not connected/],
  ];
  for (const [name, input, message] of cases) {
    it(name, async () => {
      const accepted = await submitOk({ input: input(), options: { prompt: 'add a duck' } });
      const { statuses, data } = await pollToFinal(accepted.id);
      expect(statuses.at(-1)).toBe('ERROR');
      expect(data.errors).toHaveLength(1);
      expect(data.errors[0].error).toMatch(message);
      expect(data.errors[0].created_at).toMatch(/\+00:00$/);
      expect('result' in data).toBe(false);
    });
  }
});

describe('auth, validation and not found', () => {
  it('answers 401 HttpErrorDetails without a key and with a wrong one', async () => {
    for (const headers of [{}, auth('wrong-key'), { Authorization: 'Basic abc' }]) {
      for (const res of [
        await submit({ input: sim.sampleUrl(), options: { prompt: 'abc' } }, headers),
        await read(1, headers),
      ]) {
        expect(res.status).toBe(401);
        expect(res.headers.get('x-request-id')).toBeTruthy();
        expect(await res.json()).toMatchObject({
          error_type: 'auth',
          error_code: expect.any(String),
          error_message: expect.any(String),
        });
      }
    }
    expect(sim.stats.submits).toBe(3);
    expect(sim.stats.reads).toBe(3);
  });

  const valid = () => ({ input: sim.sampleUrl(), options: { prompt: 'add a duck' } });
  const invalid: [string, () => unknown, string[]][] = [
    ['missing options', () => ({ input: sim.sampleUrl() }), ['body', 'options']],
    ['missing input', () => ({ options: { prompt: 'add a duck' } }), ['body', 'input']],
    ['input not a URI', () => ({ ...valid(), input: 'picture.jpg' }), ['body', 'input']],
    ['input too long', () => ({ ...valid(), input: `https://x.test/${'a'.repeat(4100)}` }), ['body', 'input']],
    ['extra top-level field', () => ({ ...valid(), webhook: 'https://x.test' }), ['body', 'webhook']],
    [
      'extra options field',
      () => ({ ...valid(), options: { prompt: 'add a duck', seed: 1 } }),
      ['body', 'options', 'seed'],
    ],
    ['prompt too short', () => ({ ...valid(), options: { prompt: 'ab' } }), ['body', 'options', 'prompt']],
    ['prompt too long', () => ({ ...valid(), options: { prompt: 'a'.repeat(5001) } }), ['body', 'options', 'prompt']],
    [
      'unknown model',
      () => ({ ...valid(), options: { prompt: 'add a duck', model: 'v3' } }),
      ['body', 'options', 'model'],
    ],
    [
      'unknown aspect ratio',
      () => ({ ...valid(), options: { prompt: 'add a duck', aspect_ratio: '5:4' } }),
      ['body', 'options', 'aspect_ratio'],
    ],
    [
      'fractional inference_steps',
      () => ({ ...valid(), options: { prompt: 'add a duck', inference_steps: 2.5 } }),
      ['body', 'options', 'inference_steps'],
    ],
    [
      'guidance_scale above 10',
      () => ({ ...valid(), options: { prompt: 'add a duck', guidance_scale: 10.5 } }),
      ['body', 'options', 'guidance_scale'],
    ],
    ['5 images', () => ({ ...valid(), output: { number_of_images: 5 } }), ['body', 'output', 'number_of_images']],
    ['webp output', () => ({ ...valid(), output: { format: 'webp' } }), ['body', 'output', 'format']],
    ['extra output field', () => ({ ...valid(), output: { quality: 90 } }), ['body', 'output', 'quality']],
    [
      'number as a string',
      () => ({ ...valid(), output: { number_of_images: '2' } }),
      ['body', 'output', 'number_of_images'],
    ],
    ['malformed JSON', () => '{"input": ', ['body']],
    ['not an object', () => '[1,2]', ['body']],
  ];
  for (const [name, body, loc] of invalid) {
    it(`answers 422 for ${name}`, async () => {
      const res = await submit(body());
      expect(res.status).toBe(422);
      const error = (await res.json()) as Json;
      expect(error).toMatchObject({
        error_type: 'validation',
        error_code: expect.any(String),
        error_message: expect.any(String),
      });
      expect(error['error_details'].errors.map((e: Json) => e['loc'])).toContainEqual(loc);
    });
  }

  it('answers 422 in FastAPI shape for a non-integer id, 404 for an unknown id and for other paths', async () => {
    const bad = await read('abc');
    expect(bad.status).toBe(422);
    expect(await bad.json()).toEqual({
      detail: [{ loc: ['path', 'ai_edit_id'], msg: expect.any(String), type: expect.any(String) }],
    });
    expect((await read('%E0%A4%A')).status).toBe(422);
    const missing = await read(987654);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      error_type: 'general',
      error_code: expect.any(String),
      error_message: expect.stringContaining('987654'),
    });
    const other = await fetch(`${sim.url}/v1/image/other`, { headers: auth() });
    expect(other.status).toBe(404);
    const noOutput = await fetch(`${sim.url}/outputs/987654/0.png`);
    expect(noOutput.status).toBe(404);
    expect(sim.stats.readsByTask.get(987654)).toBe(1);
  });

  it('sends a unique x-request-id and Claid RateLimit headers on every response', async () => {
    const responses = [
      await read(987654),
      await read(987654),
      await fetch(`${sim.url}/nowhere`),
      await fetch(sim.sampleUrl()),
    ];
    const ids = responses.map((r) => r.headers.get('x-request-id'));
    expect(ids.every((id) => typeof id === 'string' && id.length >= 16)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of responses) {
      const limit = r.headers.get('ratelimit-limit');
      expect(limit).toMatch(/^\d+, 120;w=60, 4;w=1$/);
      // Whole numbers, present: Number(null) would be 0 and pass a bound check on a missing header.
      expect(r.headers.get('ratelimit-remaining')).toMatch(/^\d+$/);
      expect(r.headers.get('ratelimit-reset')).toMatch(/^[1-9]\d*$/);
      expect(Number(r.headers.get('ratelimit-remaining'))).toBeLessThanOrEqual(Number(limit!.split(',')[0]));
    }
  });
});

describe('failure injection', () => {
  it('fails the next request with each body kind, then recovers', async () => {
    const kinds = [
      [
        'json',
        'application/json',
        (b: string) => expect(JSON.parse(b)).toMatchObject({ error_code: '503', error_type: 'general' }),
      ],
      [
        'detail',
        'application/json',
        (b: string) => expect(JSON.parse(b).detail).toMatchObject({ error_code: '503', error_type: 'general' }),
      ],
      [
        'validation',
        'application/json',
        (b: string) => expect(JSON.parse(b).detail[0]).toMatchObject({ loc: ['body'], msg: expect.any(String) }),
      ],
      ['html', 'text/html; charset=utf-8', (b: string) => expect(b).toMatch(/<html>.*503 Service Unavailable/)],
      ['empty', null, (b: string) => expect(b).toBe('')],
    ] as const;
    for (const [body, contentType, check] of kinds) {
      sim.control.fail({ status: 503, body });
      const res = await read(987654);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe(contentType);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      check(await res.text());
    }
    expect((await read(987654)).status).toBe(404);
    expect(sim.stats.reads).toBe(6);
  });

  it('takes effect before auth, honours times and endpoint, and counts in stats', async () => {
    sim.control.fail({ status: 500, endpoint: 'submit', times: 2 });
    expect((await read(987654)).status).toBe(404);
    expect((await submit({}, {})).status).toBe(500);
    expect((await submit({})).status).toBe(500);
    expect((await submit({})).status).toBe(422);
    expect(sim.stats.submits).toBe(3);
    expect(sim.stats.reads).toBe(1);
  });

  it('gives an injected 429 the documented detail body, RateLimit-Reset 1 and Remaining -1, unless headers override', async () => {
    sim.control.fail({ status: 429, endpoint: 'read' });
    const res = await read(987654);
    expect(res.status).toBe(429);
    expect(res.headers.get('ratelimit-reset')).toBe('1');
    expect(res.headers.get('ratelimit-remaining')).toBe('-1');
    expect(res.headers.get('retry-after')).toBeNull();
    expect(await res.json()).toEqual({
      detail: {
        error_code: '2001',
        error_type: 'general',
        error_message: 'Too Many Requests. Rate limit exceeded.',
        error_details: {},
      },
    });

    sim.control.fail({ status: 429, body: 'json', headers: { 'RateLimit-Reset': '7', 'Retry-After': '3' } });
    const custom = await read(987654);
    expect(custom.headers.get('ratelimit-reset')).toBe('7');
    expect(custom.headers.get('retry-after')).toBe('3');
    expect(await custom.json()).toMatchObject({ error_code: '2001' });
  });

  it('hangs a request without answering, and only the number asked for', async () => {
    sim.control.hang({ endpoint: 'read' });
    const hung = fetch(`${sim.url}/v1/image/ai-edit/987654`, { headers: auth(), signal: AbortSignal.timeout(300) });
    await expect(hung).rejects.toThrow(/timeout|aborted/i);
    expect((await read(987654)).status).toBe(404);
    expect(sim.stats.reads).toBe(2);
  });

  it('can be driven over HTTP with the key, and reports stats', async () => {
    const post = (body: unknown, headers = auth()) =>
      fetch(`${sim.url}/__control`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });

    expect((await post({ action: 'reset' }, {})).status).toBe(401);
    expect((await fetch(`${sim.url}/__control/stats`)).status).toBe(401);
    expect((await post({ action: 'explode' })).status).toBe(400);
    expect((await post({ action: 'fail', status: 'x' })).status).toBe(400);
    expect((await post({ action: 'fail', status: 500, headers: ['x'] })).status).toBe(400);
    expect((await post({ action: 'hang', endpoint: 'everything' })).status).toBe(400);

    expect(
      await (await post({ action: 'fail', status: 502, endpoint: 'read', body: 'html', times: 2 })).json(),
    ).toEqual({ ok: true });
    expect((await read(987654)).status).toBe(502);
    expect((await read(987654)).status).toBe(502);
    expect((await read(42424242)).status).toBe(404);
    const stats = (await (await fetch(`${sim.url}/__control/stats`, { headers: auth() })).json()) as Json;
    expect(stats).toEqual({
      submits: 0,
      reads: 3,
      readsByTask: { '987654': 2, '42424242': 1 },
      webhooks: 0,
      rateLimited: {},
    });

    expect((await post({ action: 'setStepMs', ms: 0 })).status).toBe(200);
    const accepted = await submitOk({
      input: sim.sampleUrl(),
      options: { model: 'v1', prompt: 'instant', aspect_ratio: '1:1' },
    });
    const { statuses } = await pollToFinal(accepted.id);
    expect(statuses).not.toContain('WAITING');
    expect(statuses.at(-1)).toBe('DONE');

    expect((await post({ action: 'reset' })).status).toBe(200);
    expect(sim.stats.reads).toBe(0);
    expect(sim.stats.readsByTask.size).toBe(0);
  });
});

describe('hanging and closing', () => {
  it('holds a hung request open until close(), which returns promptly', async () => {
    const own = await startSimulator({ stepMs: 50 });
    own.control.hang({ endpoint: 'read', times: 1 });
    const hung = fetch(`${own.url}/v1/image/ai-edit/1`, { headers: { Authorization: `Bearer ${own.apiKey}` } }).then(
      (r) => `answered ${r.status}`,
      () => 'socket closed',
    );
    const early = await Promise.race([hung, new Promise((r) => setTimeout(() => r('still hanging'), 300))]);
    expect(early).toBe('still hanging');
    // the hang was used up: the next read is answered
    const next = await fetch(`${own.url}/v1/image/ai-edit/1`, { headers: { Authorization: `Bearer ${own.apiKey}` } });
    expect(next.status).toBe(404);
    expect(own.stats.reads).toBe(2);

    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await hung).toBe('socket closed');
  });
});

describe('rate limiting', () => {
  it('answers 429 with the documented body and headers once over the per-second limit', async () => {
    const limited = await startSimulator({ stepMs: 50, rateLimit: { perSecond: 2, perMinute: 100 } });
    try {
      // start early in a clock second so all three requests share its window
      while (Date.now() % 1000 > 400) await new Promise((r) => setTimeout(r, 20));
      const headers = { Authorization: `Bearer ${limited.apiKey}` };
      const first = await fetch(`${limited.url}/v1/image/ai-edit/1`, { headers });
      const second = await fetch(`${limited.url}/v1/image/ai-edit/1`, { headers });
      const third = await fetch(`${limited.url}/v1/image/ai-edit/1`, { headers });
      expect(first.status).toBe(404);
      expect(first.headers.get('ratelimit-remaining')).toBe('1');
      expect(second.status).toBe(404);
      expect(second.headers.get('ratelimit-remaining')).toBe('0');
      expect(third.status).toBe(429);
      expect(third.headers.get('ratelimit-limit')).toBe('2, 100;w=60, 2;w=1');
      expect(third.headers.get('ratelimit-remaining')).toBe('-1');
      expect(third.headers.get('ratelimit-reset')).toBe('1');
      expect(third.headers.get('x-request-id')).toBeTruthy();
      expect(await third.json()).toEqual({
        detail: {
          error_code: '2001',
          error_type: 'general',
          error_message: 'Too Many Requests. Rate limit exceeded.',
          error_details: {},
        },
      });
      expect(limited.stats.reads).toBe(3);
      // counted by what was refused and by which window (the arrivals benchmark reports these)
      expect(Object.fromEntries(limited.stats.rateLimited)).toEqual({ 'read:second': 1 });

      // a new second window admits requests again
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
      expect((await fetch(`${limited.url}/v1/image/ai-edit/1`, { headers })).status).toBe(404);
    } finally {
      await limited.close();
    }
  });
});
