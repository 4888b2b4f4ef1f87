import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAiEditRequest } from '../../src/domain/ai-edit-request.js';
import type { AiEditRequest } from '../../src/domain/job.js';
import { ANONYMOUS_CALLER } from '../../src/services/auth/authenticator.js';
import { captureLogger, JOB_FIELDS, READ, SUBMIT } from '../support/gateway.js';
import { buildInProcessGateway, type InProcessGateway } from './support/in-process.js';

// Schema, resolvers and error mapping on a built gateway that never listens: no port, no upstream.

let api: InProcessGateway;
const log = captureLogger('debug');
beforeAll(async () => {
  api = await buildInProcessGateway({ logger: log.logger });
});
afterAll(() => api.close());

const globalId = (id: string) => Buffer.from(`AiEditJob:${id}`).toString('base64');
const REQUEST: AiEditRequest = { input: 'https://images.example/a.jpg', options: { prompt: 'add a duck' } };

async function storedJob(owner = ANONYMOUS_CALLER.name) {
  return api.gateway.internals.store.insert({
    owner,
    request: REQUEST,
    requestHash: hashAiEditRequest(REQUEST),
    idempotencyKey: null,
    upstream: {
      upstreamId: 42,
      status: 'PROCESSING',
      createdAt: new Date('2026-01-02T03:04:05.000Z'),
      errors: [],
      result: null,
    },
    at: new Date('2026-01-02T03:04:05.000Z'),
  });
}

describe('reads', () => {
  it('reads a stored job by its global id, and through node(id)', async () => {
    const job = await storedJob();
    const res = await api.gql(`query($id: ID!) { aiEditJob(id: $id) { ${JOB_FIELDS} } node(id: $id) { id } }`, {
      id: globalId(job.id),
    });
    expect(res.errors).toBeUndefined();
    expect(res.data!.aiEditJob).toMatchObject({
      id: globalId(job.id),
      upstreamId: 42,
      status: 'PROCESSING',
      isFinal: false,
      createdAt: '2026-01-02T03:04:05.000Z',
      request: { input: REQUEST.input, options: { prompt: 'add a duck' } },
      result: null,
      history: [{ status: 'PROCESSING', at: '2026-01-02T03:04:05.000Z' }],
    });
    expect(res.data!.node).toEqual({ id: globalId(job.id) });
  });

  it("gives null for an unknown job and for another caller's", async () => {
    const unknown = await api.gql(READ, { id: globalId('00000000-0000-4000-8000-000000000000') });
    expect(unknown).toEqual({ data: { aiEditJob: null } });
    const theirs = await storedJob('someone-else');
    expect(await api.gql(READ, { id: globalId(theirs.id) })).toEqual({ data: { aiEditJob: null } });
    expect(await api.gql('query($id: ID!) { node(id: $id) { id } }', { id: globalId(theirs.id) })).toEqual({
      data: { node: null },
    });
  });

  it('refuses a malformed id in aiEditJob with BAD_USER_INPUT naming the field', async () => {
    const res = await api.gql(READ, { id: '%%%' });
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
  });

  // Known defect (contract: BAD_USER_INPUT for invalid input): the relay plugin's "Invalid global ID" reaches the
  // client without a code. Drop `.fails` once the schema maps it.
  it.fails('refuses a malformed id in node(id) with BAD_USER_INPUT', async () => {
    const res = await api.gql('query($id: ID!) { node(id: $id) { id } }', { id: '%%%' });
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  const BAD_ENUM = 'query($s: [AiEditJobStatus!]) { aiEditJobs(status: $s) { edges { node { id } } } }';

  it('refuses an unknown enum value in variables before anything runs', async () => {
    const body = await api.gql(BAD_ENUM, { s: ['FINISHED'] });
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.message).toMatch(/"FINISHED" does not exist in "AiEditJobStatus"/);
  });

  // Known defect: the masker returns the inner coercion error, which loses the outer message (naming `$s`) and its
  // `extensions.http` status, so graphql-response+json answers 200 instead of 400. Drop `.fails` once it keeps them.
  it.fails('answers an unknown enum value in variables with 400, naming the variable', async () => {
    const res = await api.post(BAD_ENUM, { s: ['FINISHED'] }, { accept: 'application/graphql-response+json' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(/"\$s"/);
  });
});

describe('submit input validation', () => {
  it.each([
    ['a prompt too short', { input: 'https://images.example/a.jpg', options: { prompt: 'x' } }, 'input.options.prompt'],
    ['an input that is not a URL', { input: 'not a url', options: { prompt: 'add a duck' } }, 'input.input'],
    [
      'guidanceScale without model',
      { input: 'https://images.example/a.jpg', options: { prompt: 'add a duck', guidanceScale: 2 } },
      'input.options.guidanceScale',
    ],
  ])('refuses %s with BAD_USER_INPUT and never reaches the upstream', async (_name, input, field) => {
    const before = (await api.gateway.internals.store.listUnfinished()).length;
    const res = await api.gql(SUBMIT, { input });
    expect(res.data ?? null).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    // The embedded simulator never started here: a call that got that far would have failed as INTERNAL_SERVER_ERROR.
    expect((await api.gateway.internals.store.listUnfinished()).length).toBe(before);
  });
});

describe('unexpected errors', () => {
  it('are masked for the client and logged once at error level, with their stack and correlation id', async () => {
    const broken = await buildInProcessGateway({ logger: log.logger });
    await broken.gateway.internals.store.close();
    const res = await broken.gql('{ aiEditJobs { edges { node { id } } } }');
    await broken.close();
    expect(res.errors).toHaveLength(1);
    const { message, extensions } = res.errors![0]!;
    expect(message).toBe('Unexpected error.');
    expect(extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
    expect(JSON.stringify(res)).not.toMatch(/database|sqlite/i);

    const errorLines = log.lines.map((l) => JSON.parse(l)).filter((l) => l.level >= 50);
    const logged = errorLines.filter((l) => JSON.stringify(l).includes('The database connection is not open'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ correlationId: extensions!.correlationId, msg: 'unexpected error' });
    expect(logged[0].err.stack).toMatch(/at .*sqlite-job-store\.ts/);
  });

  it('client mistakes never reach the error log', async () => {
    const before = log.lines.length;
    await api.gql(READ, { id: '%%%' });
    await api.gql(SUBMIT, { input: { input: 'https://images.example/a.jpg', options: { prompt: 'x' } } });
    const errors = log.lines.slice(before).filter((l) => JSON.parse(l).level >= 50);
    expect(errors).toEqual([]);
  });
});
