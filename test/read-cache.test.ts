import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { JOB_FIELDS, SUBMIT, startTestGateway } from './support/gateway.js';
import { claidResult, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

// The read cache in front of Yoga (src/http/final-read-cache.ts), over real sockets: what it keeps, for whom, and
// proof that a hit skips execution (JobService.loadJobs is not called) while everything else still runs.

const INPUT = 'https://images.example.com/room.jpg';
const READ = /* GraphQL */ `query Read($id: ID!) { aiEditJob(id: $id) { ${JOB_FIELDS} } }`;
const NODE = /* GraphQL */ `query($id: ID!) { node(id: $id) { id ... on AiEditJob { status } } }`;
const LIST = /* GraphQL */ `query { aiEditJobs(first: 5) { edges { node { id status } } } }`;
const UNKNOWN = Buffer.from('AiEditJob:00000000-0000-4000-8000-000000000000').toString('base64');
const JSON_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/graphql-response+json, application/json',
};

let upstream: TestUpstream;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  upstream = await startTestUpstream({ apiKey: 'upstream-key' });
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await upstream?.close();
});

async function gateway(env: Record<string, string> = {}): Promise<Gateway> {
  const g = await startTestGateway({
    env: { CLAID_API_KEY: 'upstream-key', CLAID_API_URL: upstream.url, POLL_INTERVAL_MS: '50', ...env },
  });
  cleanups.push(() => g.stop());
  return g;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] };
}

/** One request over HTTP: a POST of exactly `body`, or a GET of `search`. */
async function send(
  g: Gateway,
  init: { body?: string; search?: string; headers?: Record<string, string> },
): Promise<Answer> {
  const res = await fetch(`${g.url}/graphql${init.search ?? ''}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers:
      init.body === undefined
        ? { accept: JSON_HEADERS.accept, 'x-graphql-yoga-csrf': '1', ...init.headers }
        : { ...JSON_HEADERS, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Answer['body'] };
}

const readBody = (id: string, query = READ) => JSON.stringify({ query, variables: { id } });

const upstreamIds = new Map<string, number>();

/** Submits a job and moves it upstream to `status`; reads it (as `headers`) until the gateway has it. */
async function jobWithStatus(
  g: Gateway,
  status: 'DONE' | 'ERROR' | 'PROCESSING',
  headers: Record<string, string> = {},
): Promise<string> {
  const submitted = await send(g, {
    body: JSON.stringify({ query: SUBMIT, variables: { input: { input: INPUT, options: { prompt: 'add a duck' } } } }),
    headers,
  });
  expect(submitted.body.errors).toBeUndefined();
  const { id, upstreamId } = submitted.body.data.submitAiEdit.job as { id: string; upstreamId: number };
  upstreamIds.set(id, upstreamId);
  upstream.setTask(
    upstreamId,
    status === 'DONE'
      ? { status, result: claidResult(2) }
      : status === 'ERROR'
        ? { status, errors: [{ error: 'bad input', created_at: '2025-03-13T11:37:10+00:00' }] }
        : { status },
  );
  // Read with a shape the tests never use, so that these reads leave no entry a test counts on.
  const probe = JSON.stringify({ query: `query($id: ID!) { aiEditJob(id: $id) { status } }`, variables: { id } });
  const deadline = Date.now() + 5_000;
  for (;;) {
    const res = await send(g, { body: probe, headers });
    if (res.body.data?.aiEditJob?.status === status) return id;
    if (Date.now() > deadline) throw new Error(`job not ${status}: ${res.text}`);
    await new Promise((r) => setTimeout(r, 60));
  }
}

function countExecutions(g: Gateway) {
  const loads = vi.spyOn(g.internals.services.jobs, 'loadJobs');
  const lists = vi.spyOn(g.internals.services.jobs, 'listJobs');
  const submits = vi.spyOn(g.internals.services.jobs, 'submit');
  cleanups.push(() => vi.restoreAllMocks());
  return {
    loads: () => loads.mock.calls.length,
    lists: () => lists.mock.calls.length,
    submits: () => submits.mock.calls.length,
  };
}

describe('read cache (AUTH_MODE=none)', () => {
  let g: Gateway;
  let done: string;
  let runs: ReturnType<typeof countExecutions>;
  beforeAll(async () => {
    g = await gateway({ CORS_ORIGINS: 'https://app.example.com' });
    done = await jobWithStatus(g, 'DONE');
    runs = countExecutions(g);
  });

  it('answers a repeated read of a final job from the cache, byte for byte, without running it', async () => {
    expect(g.internals.readCache.enabled).toBe(true);
    const before = { ...g.internals.readCache.stats, loads: runs.loads() };
    const first = await send(g, { body: readBody(done) });
    expect(first.status).toBe(200);
    expect(first.body.data.aiEditJob).toMatchObject({ id: done, status: 'DONE', isFinal: true });
    expect(first.body.data.aiEditJob.result.outputObjects).toHaveLength(2);
    expect(runs.loads()).toBe(before.loads + 1);
    expect(g.internals.readCache.stats).toMatchObject({
      misses: before.misses + 1,
      stores: before.stores + 1,
      hits: before.hits,
      entries: before.entries + 1,
    });

    for (let i = 1; i <= 3; i++) {
      const again = await send(g, { body: readBody(done) });
      expect(again.status).toBe(200);
      expect(again.text).toBe(first.text);
      expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
      expect(again.headers.get('content-length')).toBe(String(Buffer.byteLength(first.text)));
      expect(g.internals.readCache.stats.hits).toBe(before.hits + i);
    }
    // Execution never ran for the hits.
    expect(runs.loads()).toBe(before.loads + 1);
    expect(g.internals.readCache.stats.misses).toBe(before.misses + 1);
    expect(g.internals.readCache.stats.bytes).toBeGreaterThan(Buffer.byteLength(first.text));
  });

  it('a hit carries the headers of the answer it replays, and its own request id', async () => {
    const body = readBody(done);
    const headersOf = (res: Answer) =>
      [...res.headers].filter(([name]) => name !== 'date' && name !== 'x-request-id').sort();
    const filled = await send(g, { body, headers: { 'x-request-id': 'fill-a' } });
    const hits = g.internals.readCache.stats.hits;
    const hit = await send(g, { body, headers: { 'x-request-id': 'hit-b' } });
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);
    expect(hit.text).toBe(filled.text);
    expect(headersOf(hit)).toEqual(headersOf(filled));
    expect(hit.headers.get('x-request-id')).toBe('hit-b');
    expect(hit.headers.get('date')).toMatch(/ GMT$/);
  });

  it('tells apart two bodies of one length and one ending (the key holds only a fingerprint of the body)', async () => {
    // The same length and the same variables at the end: only the alias differs, inside the query.
    const a = JSON.stringify({
      query: `query($id: ID!) { a: aiEditJob(id: $id) { id status } }`,
      variables: { id: done },
    });
    const b = JSON.stringify({
      query: `query($id: ID!) { b: aiEditJob(id: $id) { id status } }`,
      variables: { id: done },
    });
    expect(a.length).toBe(b.length);
    const loads = runs.loads();
    expect((await send(g, { body: a })).body).toEqual({ data: { a: { id: done, status: 'DONE' } } });
    expect((await send(g, { body: a })).body).toEqual({ data: { a: { id: done, status: 'DONE' } } });
    expect(runs.loads()).toBe(loads + 1);
    // b's key is a's: the entry's own body says it is not b's answer, and b's answer replaces it.
    const hits = g.internals.readCache.stats.hits;
    expect((await send(g, { body: b })).body).toEqual({ data: { b: { id: done, status: 'DONE' } } });
    expect(g.internals.readCache.stats.hits).toBe(hits);
    expect((await send(g, { body: b })).body).toEqual({ data: { b: { id: done, status: 'DONE' } } });
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);
    expect((await send(g, { body: a })).body).toEqual({ data: { a: { id: done, status: 'DONE' } } });
    expect(runs.loads()).toBe(loads + 3);
  });

  it('keeps ERROR jobs and node(id) reads too', async () => {
    const failed = await jobWithStatus(g, 'ERROR');
    const loads = runs.loads();
    const first = await send(g, { body: readBody(failed) });
    expect(first.body.data.aiEditJob).toMatchObject({ status: 'ERROR', errors: [{ message: 'bad input' }] });
    const node = await send(g, { body: readBody(done, NODE) });
    expect(node.body).toEqual({ data: { node: { id: done, status: 'DONE' } } });
    const hits = g.internals.readCache.stats.hits;
    expect((await send(g, { body: readBody(failed) })).text).toBe(first.text);
    expect((await send(g, { body: readBody(done, NODE) })).text).toBe(node.text);
    expect(g.internals.readCache.stats.hits).toBe(hits + 2);
    expect(runs.loads()).toBe(loads + 2);
  });

  it('never keeps an unfinished job: its later status is visible', async () => {
    const running = await jobWithStatus(g, 'PROCESSING');
    const stores = g.internals.readCache.stats.stores;
    const hits = g.internals.readCache.stats.hits;
    for (let i = 0; i < 3; i++) {
      const res = await send(g, { body: readBody(running) });
      expect(res.body.data.aiEditJob.status).toBe('PROCESSING');
    }
    expect(g.internals.readCache.stats.stores).toBe(stores);
    upstream.setTask(upstreamIds.get(running)!, { status: 'DONE', result: claidResult(1) });
    const deadline = Date.now() + 5_000;
    let status = 'PROCESSING';
    while (status !== 'DONE' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 60));
      status = (await send(g, { body: readBody(running) })).body.data.aiEditJob.status;
    }
    expect(status).toBe('DONE');
    expect(g.internals.readCache.stats.hits).toBe(hits);
    // Now final: kept from here on.
    expect(g.internals.readCache.stats.stores).toBe(stores + 1);
    await send(g, { body: readBody(running) });
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);
  });

  it('never keeps a null answer (an unknown id, or an id of another type)', async () => {
    const stores = g.internals.readCache.stats.stores;
    const otherType = Buffer.from('Somethin:00000000-0000-4000-8000-000000000000').toString('base64');
    for (const id of [UNKNOWN, UNKNOWN, otherType, otherType]) {
      const res = await send(g, { body: readBody(id) });
      expect(res.body).toEqual({ data: { aiEditJob: null } });
    }
    expect(g.internals.readCache.stats.stores).toBe(stores);
  });

  it('never keeps connections, mutations, errors or a read mixed with a connection', async () => {
    const stores = g.internals.readCache.stats.stores;
    const lists = runs.lists();
    for (let i = 0; i < 2; i++)
      expect((await send(g, { body: JSON.stringify({ query: LIST }) })).body.errors).toBeUndefined();
    expect(runs.lists()).toBe(lists + 2);

    const mixed = JSON.stringify({
      query: `query($id: ID!) { aiEditJob(id: $id) { id } aiEditJobs(first: 1) { edges { node { id } } } }`,
      variables: { id: done },
    });
    for (let i = 0; i < 2; i++) expect((await send(g, { body: mixed })).body.data.aiEditJob.id).toBe(done);
    expect(runs.lists()).toBe(lists + 4);

    const submits = runs.submits();
    const submit = JSON.stringify({
      query: SUBMIT,
      variables: { input: { input: INPUT, options: { prompt: 'add a duck' }, idempotencyKey: 'cache-me-not' } },
    });
    const a = await send(g, { body: submit });
    const b = await send(g, { body: submit });
    expect(b.body.data.submitAiEdit.job.id).toBe(a.body.data.submitAiEdit.job.id);
    expect(runs.submits()).toBe(submits + 2);

    // A validation error: 200/400 with errors, never kept.
    const bad = JSON.stringify({ query: `query($id: ID!) { aiEditJob(id: $id) { nope } }`, variables: { id: done } });
    for (let i = 0; i < 2; i++) expect((await send(g, { body: bad })).body.errors?.length).toBe(1);
    expect(g.internals.readCache.stats.stores).toBe(stores);
  });

  it('GET and POST both work, as separate entries', async () => {
    const search = `?query=${encodeURIComponent(READ)}&variables=${encodeURIComponent(JSON.stringify({ id: done }))}`;
    const loads = runs.loads();
    const hits = g.internals.readCache.stats.hits;
    const first = await send(g, { search });
    expect(first.status).toBe(200);
    expect(first.body.data.aiEditJob.id).toBe(done);
    expect(runs.loads()).toBe(loads + 1);
    const again = await send(g, { search });
    expect(again.text).toBe(first.text);
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);
    expect(runs.loads()).toBe(loads + 1);
    // A GET without the CSRF header is still refused (the header is part of the key), and never kept.
    const forged = await fetch(`${g.url}/graphql${search}`, { headers: { accept: JSON_HEADERS.accept } });
    expect(forged.status).toBe(403);
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);
  });

  it('a different Origin or Accept is a different entry, with its own headers', async () => {
    const body = readBody(done);
    await send(g, { body });
    const plain = await send(g, { body });
    const hits = g.internals.readCache.stats.hits;
    const misses = g.internals.readCache.stats.misses;

    const fromApp = await send(g, { body, headers: { origin: 'https://app.example.com' } });
    expect(fromApp.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    const fromAppAgain = await send(g, { body, headers: { origin: 'https://app.example.com' } });
    expect(fromAppAgain.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(fromAppAgain.headers.get('access-control-allow-credentials')).toBe('true');
    expect(fromAppAgain.text).toBe(plain.text);

    const evil = await send(g, { body, headers: { origin: 'https://evil.example.com' } });
    expect(evil.status).toBe(403);
    expect(evil.body.errors?.[0]?.extensions?.code).toBe('ORIGIN_NOT_ALLOWED');

    const json = await send(g, { body, headers: { accept: 'application/json' } });
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(plain.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
    const jsonAgain = await send(g, { body, headers: { accept: 'application/json' } });
    expect(jsonAgain.headers.get('content-type')).toMatch(/^application\/json/);

    expect(g.internals.readCache.stats.misses).toBe(misses + 3);
    expect(g.internals.readCache.stats.hits).toBe(hits + 2);
  });

  it('lets a body without Content-Length through to Yoga unbuffered, and still refuses one over MAX_BODY_BYTES', async () => {
    const misses = g.internals.readCache.stats.misses;
    const hits = g.internals.readCache.stats.hits;
    const chunked = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${g.url}/graphql`, { method: 'POST', headers: JSON_HEADERS }, (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (text += c))
          .on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      const body = readBody(done);
      req.write(body.slice(0, 10));
      req.end(body.slice(10));
    });
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.text).data.aiEditJob.id).toBe(done);
    const huge = await fetch(`${g.url}/graphql`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ query: READ, variables: { id: done, pad: 'x'.repeat(200_000) } }),
    });
    expect(huge.status).toBe(413);
    expect(g.internals.readCache.stats.misses).toBe(misses);
    expect(g.internals.readCache.stats.hits).toBe(hits);
  });
});

describe('read cache with API keys', () => {
  let dir: string;
  let keysFile: string;
  let g: Gateway;
  let aliceJob: string;
  const ALICE = { authorization: 'Bearer alice-key-0001' };
  const BOB = { authorization: 'Bearer bob-key-000002' };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'read-cache-keys-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    keysFile = join(dir, 'keys');
    writeFileSync(keysFile, 'alice:alice-key-0001\nbob:bob-key-000002\n');
    g = await gateway({ AUTH_MODE: 'apikey', GATEWAY_API_KEYS_FILE: keysFile });
    aliceJob = await jobWithStatus(g, 'DONE', ALICE);
  });

  it("never serves one caller's cached job to another, before, after and interleaved", async () => {
    const body = readBody(aliceJob);
    const nullAnswer = { data: { aiEditJob: null } };
    // Before alice's entry exists.
    expect((await send(g, { body, headers: BOB })).body).toEqual(nullAnswer);
    const mine = await send(g, { body, headers: ALICE });
    expect(mine.body.data.aiEditJob.id).toBe(aliceJob);
    const hits = g.internals.readCache.stats.hits;
    expect((await send(g, { body, headers: ALICE })).text).toBe(mine.text);
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);
    // After: the identical request from bob is his own (null) answer, and not a hit.
    const theirs = await send(g, { body, headers: BOB });
    expect(theirs.body).toEqual(nullAnswer);
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);
    // Interleaved, all at once.
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(g, { body, headers: i % 2 ? BOB : ALICE })),
    );
    answers.forEach((answer, i) => {
      if (i % 2) expect(answer.body).toEqual(nullAnswer);
      else expect(answer.text).toBe(mine.text);
    });
    expect(g.internals.readCache.stats.hits).toBe(hits + 11);
    // No credentials, or a wrong key: Yoga's usual 401, never the entry.
    for (const headers of [{}, { authorization: 'Bearer wrong-key-0000' }] as Record<string, string>[]) {
      const refused = await send(g, { body, headers });
      expect(refused.status).toBe(401);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    expect(g.internals.readCache.stats.hits).toBe(hits + 11);
  });

  it('a refused caller gets its own request id on the 401 (refusals pass the cache on to Yoga)', async () => {
    const refused = await send(g, {
      body: readBody(aliceJob),
      headers: { authorization: 'Bearer wrong-key-0000', 'x-request-id': 'refused-1' },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toBe('refused-1');
  });

  it('stops answering a revoked key from the cache once the key file is reloaded', async () => {
    const body = readBody(aliceJob, NODE);
    const first = await send(g, { body, headers: ALICE });
    expect(first.body.data.node.id).toBe(aliceJob);
    const hits = g.internals.readCache.stats.hits;
    expect((await send(g, { body, headers: ALICE })).text).toBe(first.text);
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);

    writeFileSync(keysFile, 'bob:bob-key-000002\n');
    process.emit('SIGHUP', 'SIGHUP');
    const revoked = await send(g, { body, headers: ALICE });
    expect(revoked.status).toBe(401);
    expect(revoked.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);

    // The same key back under another name is another caller: it does not get alice's entry.
    writeFileSync(keysFile, 'mallory:alice-key-0001\nbob:bob-key-000002\n');
    process.emit('SIGHUP', 'SIGHUP');
    expect((await send(g, { body, headers: ALICE })).body).toEqual({ data: { node: null } });
    expect(g.internals.readCache.stats.hits).toBe(hits + 1);
  });
});

describe('read cache limits', () => {
  it('READ_CACHE_MAX_BYTES=0 turns it off: every read runs', async () => {
    const g = await gateway({ READ_CACHE_MAX_BYTES: '0' });
    const id = await jobWithStatus(g, 'DONE');
    const runs = countExecutions(g);
    const first = await send(g, { body: readBody(id) });
    const second = await send(g, { body: readBody(id) });
    expect(second.text).toBe(first.text);
    expect(runs.loads()).toBe(2);
    expect(g.internals.readCache.enabled).toBe(false);
    expect(g.internals.readCache.stats).toMatchObject({ hits: 0, misses: 0, stores: 0, entries: 0 });
  });

  it('READ_CACHE_TTL_MS ends an entry; READ_CACHE_MAX_BYTES bounds them all', async () => {
    const g = await gateway({ READ_CACHE_TTL_MS: '300', READ_CACHE_MAX_BYTES: '6000' });
    const id = await jobWithStatus(g, 'DONE');
    const runs = countExecutions(g);
    const stores = g.internals.readCache.stats.stores;
    const first = await send(g, { body: readBody(id) });
    const size = g.internals.readCache.stats.bytes;
    expect(size).toBeGreaterThan(Buffer.byteLength(first.text));
    await send(g, { body: readBody(id) });
    expect(runs.loads()).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    await send(g, { body: readBody(id) });
    expect(runs.loads()).toBe(2);
    // Distinct requests (aliases) until the bytes would overflow: older entries go, the total stays bounded.
    for (let i = 0; i < 12; i++) {
      const res = await send(g, {
        body: JSON.stringify({
          query: `query($id: ID!) { a${i}: aiEditJob(id: $id) { ${JOB_FIELDS} } }`,
          variables: { id },
        }),
      });
      expect(res.body.data[`a${i}`].id).toBe(id);
    }
    expect(g.internals.readCache.stats.stores).toBe(stores + 14);
    expect(g.internals.readCache.stats.bytes).toBeLessThanOrEqual(6000);
    expect(g.internals.readCache.stats.entries).toBeLessThan(14);
    expect(g.internals.readCache.stats.entries).toBeGreaterThan(0);
  });
});
