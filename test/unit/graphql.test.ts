import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAiEditRequest } from '../../src/domain/ai-edit-request-hash.js';
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

  it('refuses a malformed id in node(id) with BAD_USER_INPUT naming the field', async () => {
    const res = await api.gql('query($id: ID!) { node(id: $id) { id } }', { id: '%%%' });
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    expect(res.errors![0]!.path).toEqual(['node']);
  });

  it('gives null without an error for an id of another type, in node(id) as in aiEditJob', async () => {
    const other = Buffer.from('SomethingElse:1').toString('base64');
    expect(await api.gql('query($id: ID!) { node(id: $id) { id } }', { id: other })).toEqual({ data: { node: null } });
    expect(await api.gql('query($id: ID!) { aiEditJob(id: $id) { id } }', { id: other })).toEqual({
      data: { aiEditJob: null },
    });
  });

  const BAD_ENUM = 'query($s: [AiEditJobStatus!]) { aiEditJobs(status: $s) { edges { node { id } } } }';

  it('refuses an unknown enum value in variables before anything runs', async () => {
    const body = await api.gql(BAD_ENUM, { s: ['FINISHED'] });
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.message).toMatch(/"FINISHED" does not exist in "AiEditJobStatus"/);
  });

  it('answers an unknown enum value in variables with 400, naming the variable', async () => {
    const res = await api.post(BAD_ENUM, { s: ['FINISHED'] }, { accept: 'application/graphql-response+json' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(/"\$s"/);
  });

  it.each([
    [
      'a bad enum value',
      { input: { input: REQUEST.input, output: { format: 'JPG' }, options: { prompt: 'add a duck' } } },
      /^Variable "\$input" got invalid value "JPG" at "input\.output\.format"; Value "JPG" does not exist in "AiEditImageFormat" enum/,
      'input.output.format',
    ],
    [
      'an unknown field',
      { input: { input: REQUEST.input, options: { prompt: 'add a duck', colour: 'red' } } },
      /^Variable "\$input" got invalid value .* at "input\.options"; Field "colour" is not defined by type "AiEditOptionsInput"/,
      'input.options.colour',
    ],
    [
      'a missing field',
      { input: { input: REQUEST.input, options: {} } },
      /^Variable "\$input" got invalid value \{\} at "input\.options"; Field "prompt" of required type "String!" was not provided/,
      'input.options.prompt',
    ],
    ['a missing variable', {}, /^Variable "\$input" of required type "SubmitAiEditInput!" was not provided/, 'input'],
  ])(
    'answers %s in variables with the whole message, BAD_USER_INPUT and the field',
    async (_name, variables, message, field) => {
      const res = await api.post(SUBMIT, variables);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(body.errors).toHaveLength(1);
      expect(body.errors[0]!.message).toMatch(message);
      expect(body.errors[0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', field });
    },
  );
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

describe('submit input validation, every field at once', () => {
  it('lists each invalid field in extensions.fields, the first also as extensions.field', async () => {
    const res = await api.gql(SUBMIT, {
      input: { input: 'not a url', output: { numberOfImages: 7 }, options: { prompt: '     ' } },
    });
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'input.input',
      fields: [
        { field: 'input.input', message: 'input.input must be an http, https or storage:// URL' },
        { field: 'input.output.numberOfImages', message: 'input.output.numberOfImages must be from 1 to 4' },
        { field: 'input.options.prompt', message: 'input.options.prompt must not be blank' },
      ],
    });
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
