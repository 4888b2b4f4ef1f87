import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { captureLogger, startTestGateway } from './support/gateway.js';
import { PostgresTestDatabase, testPostgresUrl } from './support/postgres.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { claidResult, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

// Issue 11, items 2 and 4: PostgreSQL goes away behind a loopback proxy the test cuts and restores. Clients get a
// code they can act on (STORE_UNAVAILABLE, 503 + Retry-After when that is the whole answer), cached final reads go
// on, the log holds one line for the outage rather than one per failure, everything works again without a restart,
// and a submit Claid accepted while the store was away is recorded once the store is back, sent exactly once.

const pg = testPostgresUrl ? new PostgresTestDatabase(testPostgresUrl) : undefined;
const INPUT = 'https://example.com/in.png';
const SUBMIT = `mutation($input: SubmitAiEditInput!) { submitAiEdit(input: $input) { job { id upstreamId status } } }`;
const READ = 'query($id: ID!) { aiEditJob(id: $id) { id upstreamId status isFinal } }';

let upstream: TestUpstream;
let proxy: TcpProxy;
let gateway: Gateway;
const logs = captureLogger('info');

async function post(query: string, variables: Record<string, unknown>) {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: { message: string; extensions?: any }[] };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
}

const submit = (prompt: string) => post(SUBMIT, { input: { input: INPUT, options: { prompt } } });
const read = (id: string) => post(READ, { id });
const linesWith = (text: string) => logs.lines.filter((line) => line.includes(text));

describe.skipIf(!pg)('a store outage (PostgreSQL behind a proxy that is cut)', () => {
  beforeAll(async () => {
    const schema = await pg!.createSchema();
    const target = new URL(pg!.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(pg!.urlWithSearchPath(schema));
    url.port = String(proxy.port);
    upstream = await startTestUpstream();
    gateway = await startTestGateway({
      env: {
        DATABASE_URL: url.toString(),
        CLAID_API_URL: upstream.url,
        CLAID_API_KEY: 'test-key',
        POLL_INTERVAL_MS: '50',
      },
      logger: logs.logger,
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await proxy?.close();
    await upstream?.close();
    await pg?.end();
  });

  it('answers STORE_UNAVAILABLE, keeps cached reads, logs the outage once and recovers by itself', async () => {
    const done = (await submit('a job that will finish')).body.data.submitAiEdit.job;
    upstream.setTask(done.upstreamId, { status: 'DONE', result: claidResult() });
    let final: any;
    for (let i = 0; i < 100 && !final?.isFinal; i++) {
      final = (await read(done.id)).body.data.aiEditJob;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(final.isFinal).toBe(true);
    await read(done.id); // the read cache now holds it
    const running = (await submit('a job that keeps running')).body.data.submitAiEdit.job;
    const postsBefore = upstream.requestsTo('POST').length;

    proxy.cut();
    const refused = await submit('a submit while the store is away');
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('5');
    expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['STORE_UNAVAILABLE']);
    expect(refused.body.errors![0]!.extensions.retryAfterSeconds).toBe(5);
    expect(upstream.requestsTo('POST')).toHaveLength(postsBefore); // nothing was sent: nothing charged

    const uncached = await read(running.id);
    expect(uncached.status).toBe(503);
    expect(uncached.retryAfter).toBe('5');
    expect(uncached.body.errors?.map((e) => e.extensions?.code)).toEqual(['STORE_UNAVAILABLE']);

    const cached = await read(done.id);
    expect(cached.status).toBe(200);
    expect(cached.body.data.aiEditJob).toMatchObject({ id: done.id, status: 'DONE' });

    const repeats = await Promise.all(Array.from({ length: 40 }, () => read(running.id)));
    expect(repeats.every((r) => r.body.errors?.[0]?.extensions?.code === 'STORE_UNAVAILABLE')).toBe(true);
    expect(linesWith('job store unavailable')).toHaveLength(1);
    expect(linesWith('unexpected error')).toEqual([]);
    expect(linesWith('"level":50').length).toBeLessThanOrEqual(2);

    proxy.restore();
    let back: Awaited<ReturnType<typeof read>> | undefined;
    for (let i = 0; i < 100 && back?.status !== 200; i++) {
      back = await read(running.id);
      if (back.status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(back!.body.data.aiEditJob).toMatchObject({ id: running.id, upstreamId: running.upstreamId });
    const after = await submit('a submit once the store is back');
    expect(after.status).toBe(200);
    expect(after.body.data.submitAiEdit.job.upstreamId).toEqual(expect.any(Number));
    expect(linesWith('job store available again')).toHaveLength(1);
  }, 60_000);

  it('records a submit Claid accepted while the store was away, once the store is back, sent once', async () => {
    upstream.enqueue(
      async (req) => {
        await new Promise((r) => setTimeout(r, 400));
        return upstream.fakeClaid(req);
      },
      { method: 'POST' },
    );
    const postsBefore = upstream.requestsTo('POST').length;
    const answering = submit('accepted during the outage');
    await upstream.waitForRequests(upstream.requests.length + 1);
    proxy.cut(); // the job is recorded; Claid answers while the store is away
    const answered = await answering;
    expect(answered.body.errors).toBeUndefined();
    const job = answered.body.data.submitAiEdit.job;
    expect(job.upstreamId).toEqual(expect.any(Number));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(linesWith('Claid accepted a submit the store could not record yet')).toHaveLength(1);
    expect(linesWith('Claid accepted a submit the store could not record yet')[0]).toContain(
      `"upstreamId":${job.upstreamId}`,
    );

    proxy.restore();
    let stored: any;
    for (let i = 0; i < 100 && stored?.upstreamId !== job.upstreamId; i++) {
      const res = await read(job.id);
      stored = res.body.data?.aiEditJob;
      if (stored?.upstreamId !== job.upstreamId) await new Promise((r) => setTimeout(r, 50));
    }
    expect(stored).toMatchObject({ id: job.id, upstreamId: job.upstreamId });
    // Read from the store (an unfinished job is never served from the read cache), and later reads agree.
    expect((await read(job.id)).body.data.aiEditJob.upstreamId).toBe(job.upstreamId);
    expect(linesWith('recorded a submit Claid had accepted while the store was away')).toHaveLength(1);
    expect(upstream.requestsTo('POST')).toHaveLength(postsBefore + 1);
  }, 60_000);
});
