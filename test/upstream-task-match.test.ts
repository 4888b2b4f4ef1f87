import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { gql, readUntilFinal, SUBMIT, startTestGateway } from './support/gateway.js';
import { collect, UPDATED, wsClient } from './support/subscriptions.js';
import {
  claidData,
  claidErrorBody,
  claidResult,
  claidTask,
  startTestUpstream,
  type TestUpstream,
  taskPath,
} from './support/test-upstream.js';

// A status read must be about the job's own task: an upstream that was reset may hand the id to another task, or
// forget it. The job then ends ERROR, published like any change, instead of adopting another job's result or being
// polled for ever.

const GRACE_MS = 400;
const INPUT = 'https://images.example/room.jpg';

let upstream: TestUpstream;
let gateway: Gateway;

beforeAll(async () => {
  upstream = await startTestUpstream();
  gateway = await startTestGateway({
    env: {
      CLAID_API_KEY: 'test-key',
      CLAID_API_URL: upstream.url,
      POLL_INTERVAL_MS: '20',
      BACKGROUND_POLL_INTERVAL_MS: '20',
      UPSTREAM_RETRIES: '0',
      UPSTREAM_UNKNOWN_TASK_GRACE_MS: String(GRACE_MS),
    },
  });
});

afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
});

beforeEach(() => upstream.reset());

async function submit(prompt = 'add a duck'): Promise<{ id: string; upstreamId: number }> {
  const res = await gql(gateway, SUBMIT, { input: { input: INPUT, options: { prompt } } });
  expect(res.errors).toBeUndefined();
  return res.data!.submitAiEdit.job;
}

const FOREIGN = /^The upstream answered with a different task than this job's \(.+\); this job's outcome is unknown\.$/;

describe('a status read about another task', () => {
  it('ends the job ERROR when the task echoes another request, and publishes it', async () => {
    const { id, upstreamId } = await submit();
    const client = wsClient(gateway);
    const sub = collect(client, UPDATED, { id });
    // What a reset upstream does: the job's id now names someone else's finished task.
    upstream.setTask(upstreamId, {
      status: 'DONE',
      request: { input: 'https://images.example/other.jpg', options: { prompt: 'another job' } },
      result: claidResult(1),
    });
    const job = await readUntilFinal(gateway, id);
    expect(job.status).toBe('ERROR');
    expect(job.result).toBeNull();
    expect(job.errors.at(-1).message).toMatch(FOREIGN);
    expect(job.errors.at(-1).message).toContain('input');

    const { events } = await sub.done;
    await client.dispose();
    const last = events.at(-1)!.data!.aiEditJobUpdated;
    expect(last).toMatchObject({ status: 'ERROR', isFinal: true, result: null });
    expect(last.errors.at(-1).message).toMatch(FOREIGN);
  });

  it('compares the prompt too: same input, another prompt is another task', async () => {
    const { id, upstreamId } = await submit('paint the wall blue');
    upstream.setTask(upstreamId, {
      status: 'DONE',
      request: { input: INPUT, options: { prompt: 'add a duck' } },
      result: claidResult(1),
    });
    const job = await readUntilFinal(gateway, id);
    expect(job.status).toBe('ERROR');
    expect(job.errors.at(-1).message).toContain('options.prompt');
  });

  it('ends the job ERROR when the answer is about another task id', async () => {
    const { id, upstreamId } = await submit();
    const request = upstream.tasks.get(upstreamId)!.request;
    upstream.setDefault((req) =>
      req.method === 'GET'
        ? { body: claidData(claidTask({ id: upstreamId + 1000, status: 'DONE', request, result: claidResult(1) })) }
        : upstream.fakeClaid(req),
    );
    const job = await readUntilFinal(gateway, id);
    expect(job.status).toBe('ERROR');
    expect(job.errors.at(-1).message).toMatch(FOREIGN);
    expect(job.errors.at(-1).message).toContain(`task ${upstreamId + 1000}`);
  });

  it('still takes a matching answer, with defaults the upstream filled in', async () => {
    const { id, upstreamId } = await submit();
    upstream.setTask(upstreamId, {
      status: 'DONE',
      request: { input: INPUT, options: { prompt: 'add a duck', model: 'v2' }, output: { format: 'png' } },
      result: claidResult(1),
    });
    const job = await readUntilFinal(gateway, id);
    expect(job.status).toBe('DONE');
    expect(job.result.outputObjects).toHaveLength(1);
  });
});

describe('a task the upstream does not know', () => {
  it('keeps polling through a 404 shorter than the grace, then takes the answer', async () => {
    const { id, upstreamId } = await submit();
    const notFound = { status: 404, body: claidErrorBody('Web image not found.', '4040') };
    for (let i = 0; i < 3; i++) upstream.enqueue(notFound, { method: 'GET', path: taskPath(upstreamId) });
    upstream.setTask(upstreamId, { status: 'DONE', result: claidResult(1) });
    const job = await readUntilFinal(gateway, id);
    expect(job.status).toBe('DONE');
    expect(upstream.requestsTo('GET', taskPath(upstreamId)).length).toBeGreaterThanOrEqual(4);
  });

  it('ends the job ERROR once it has answered 404 for longer than the grace', async () => {
    const { id, upstreamId } = await submit();
    upstream.reset(); // the upstream forgets every task
    const job = await readUntilFinal(gateway, id, 10_000);
    expect(job.status).toBe('ERROR');
    expect(job.errors.at(-1).message).toMatch(
      /^The upstream no longer knows this job's task \(HTTP 404 for more than 400 ms; .+\); this job's outcome is unknown\.$/,
    );
    const reads = upstream.requestsTo('GET', taskPath(upstreamId));
    expect(reads.length).toBeGreaterThanOrEqual(2);
    // Not before the grace was over: the last 404 read came about GRACE_MS after the first. The gateway times the
    // grace from when it handles each answer, the test upstream from each request's arrival: on a loaded machine
    // the last answer may be handled tens of ms later than the first was, so the upstream's gap is that much shorter.
    expect(reads.at(-1)!.at - reads[0]!.at).toBeGreaterThanOrEqual(GRACE_MS - 100);
    // ...and nothing reads a final job any more.
    const count = upstream.requests.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(upstream.requests.length).toBe(count);
  });
});
