import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { type GraphQLResponse, gql, readUntilFinal, SUBMIT, startTestGateway } from './support/gateway.js';
import { collect, collectSse, UPDATED, wsClient } from './support/subscriptions.js';

// Compiled execution (src/transport/use-compiled-execution.ts): a gateway with graphql-jit (the default) must answer
// exactly as one running graphql-js alone (GRAPHQL_JIT=false): data, errors, masking and codes. Each case is sent
// to both; what differs per gateway (its job's ids and times, correlation ids) is compared by shape.

let compiled: Gateway;
let interpreted: Gateway;
const jobs = new Map<Gateway, string>();

async function submitted(gateway: Gateway): Promise<string> {
  const res = await gql(gateway, SUBMIT, {
    input: { input: gateway.internals.simulator!.sampleUrl(), options: { prompt: 'add a duck' } },
  });
  const id = res.data!.submitAiEdit.job.id as string;
  await readUntilFinal(gateway, id);
  return id;
}

beforeAll(async () => {
  const env = { READ_CACHE_MAX_BYTES: '0' };
  [compiled, interpreted] = await Promise.all([
    startTestGateway({ env }),
    startTestGateway({ env: { ...env, GRAPHQL_JIT: 'false' } }),
  ]);
  for (const gateway of [compiled, interpreted]) jobs.set(gateway, await submitted(gateway));
});
afterAll(async () => {
  await Promise.all([compiled?.stop(), interpreted?.stop()]);
});

/** What differs between two gateways' answers by construction: each one's job, its walk, times, correlation ids. */
function normalized(gateway: Gateway, body: unknown): unknown {
  const id = jobs.get(gateway)!;
  return JSON.parse(JSON.stringify(body), (key, value) => {
    if (value === id) return '<job id>';
    if (key === 'correlationId' || key === 'requestId') return '<id>';
    // Which statuses a job's polls saw on the way depends on timing.
    if (key === 'history' && Array.isArray(value)) return '<history>';
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) return '<time>';
    if (key === 'upstreamId' && typeof value === 'number') return '<upstream id>';
    if (typeof value === 'string' && /^https?:\/\/127\.0\.0\.1:\d+\//.test(value)) return '<url>';
    return value;
  });
}

async function post(gateway: Gateway, body: Record<string, unknown>) {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: normalized(gateway, await res.json()) as GraphQLResponse };
}

/**
 * Sends one request to both gateways (with `job` replaced by each one's job id) and returns both answers. Sent twice
 * to the compiled gateway, which compiles a document at its second execution: both its answers must be the same.
 */
async function both(body: (job: string) => Record<string, unknown>) {
  const first = await post(compiled, body(jobs.get(compiled)!));
  const [jit, js] = await Promise.all([compiled, interpreted].map((g) => post(g, body(jobs.get(g)!))));
  expect(jit).toEqual(first);
  return { jit: jit!, js: js! };
}

const READ_ALL = /* GraphQL */ `
  query Read($id: ID!) {
    aiEditJob(id: $id) {
      id upstreamId status isFinal createdAt updatedAt
      request { input output { destination format numberOfImages } options { prompt model } }
      errors { message createdAt }
      result { inputObject { ext width height } outputObjects { ext mime width height tmpUrl } }
      history { status at }
    }
  }
`;

describe('compiled execution answers as graphql-js does', () => {
  const cases: [string, (job: string) => Record<string, unknown>][] = [
    ['a read of a job, every field', (job) => ({ query: READ_ALL, variables: { id: job }, operationName: 'Read' })],
    [
      'a read by node(id) with a fragment',
      (job) => ({ query: `{ node(id: "${job}") { id ... on AiEditJob { status } } }` }),
    ],
    ['a list with a connection', () => ({ query: '{ aiEditJobs(first: 5) { edges { node { status isFinal } } } }' })],
    ['a malformed global id (BAD_USER_INPUT)', () => ({ query: '{ aiEditJob(id: "x") { id } }' })],
    [
      'an unknown job (null)',
      () => ({ query: `{ aiEditJob(id: "${Buffer.from('AiEditJob:nope').toString('base64')}") { id } }` }),
    ],
    [
      'an enum variable with an unknown value',
      () => ({
        query: 'query($s: [AiEditJobStatus!]) { aiEditJobs(status: $s) { edges { node { id } } } }',
        variables: { s: ['DON'] },
      }),
    ],
    ['a missing required variable', () => ({ query: READ_ALL })],
    [
      'a variable of the wrong type',
      () => ({ query: 'query($n: Int) { aiEditJobs(first: $n) { edges { node { id } } } }', variables: { n: 'ten' } }),
    ],
    ['a resolver refusal (first over 100)', () => ({ query: '{ aiEditJobs(first: 500) { edges { node { id } } } }' })],
    [
      '@skip and @include by variable',
      (job) => ({
        query:
          'query($id: ID!, $s: Boolean!) { aiEditJob(id: $id) { id status @skip(if: $s) isFinal @include(if: $s) } }',
        variables: { id: job, s: true },
      }),
    ],
    [
      'a refused submit (BAD_USER_INPUT naming the field)',
      () => ({ query: 'mutation { submitAiEdit(input: { input: "x", options: { prompt: "p" } }) { job { id } } }' }),
    ],
    ['introspection', () => ({ query: '{ __type(name: "AiEditJobStatus") { enumValues { name } } }' })],
  ];
  for (const [name, body] of cases) {
    it(name, async () => {
      const { jit, js } = await both(body);
      expect(jit).toEqual(js);
    });
  }

  it('a document of several operations runs the one asked for, each time (left to graphql-js)', async () => {
    const query = 'query A { __typename } query B { viewer { __typename } }';
    const before = { ...compiled.internals.compiledExecution };
    // One parsed document, asked for under each name in turn: @envelop/graphql-jit alone caches per document and would
    // answer B with A's compiled operation.
    for (const operationName of ['A', 'B', 'A']) {
      const { jit, js } = await both(() => ({ query, operationName }));
      expect(jit).toEqual(js);
      expect(jit.body.data).toEqual(
        operationName === 'A' ? { __typename: 'Query' } : { viewer: { __typename: 'Viewer' } },
      );
    }
    expect(compiled.internals.compiledExecution.interpreted).toBe(before.interpreted + 1);
  });

  it('compiles a document at its second execution, once; GRAPHQL_JIT=false compiles none', async () => {
    const query = `{ c${Date.now()}: __typename }`;
    const before = compiled.internals.compiledExecution.compiled;
    await post(compiled, { query });
    expect(compiled.internals.compiledExecution.compiled).toBe(before);
    for (let i = 0; i < 3; i++) await both(() => ({ query }));
    expect(compiled.internals.compiledExecution.compiled).toBe(before + 1);
    expect(interpreted.internals.compiledExecution).toEqual({ compiled: 0, interpreted: 0 });
  });

  it('a subscription over graphql-ws and over SSE gets the same events', async () => {
    const events = await Promise.all(
      [compiled, interpreted].map(async (gateway) => {
        const client = wsClient(gateway);
        try {
          const ws = await collect(client, UPDATED, { id: jobs.get(gateway)! }).done;
          const sse = await collectSse(gateway, UPDATED, { id: jobs.get(gateway)! });
          return normalized(gateway, { ws, sse });
        } finally {
          await client.dispose();
        }
      }),
    );
    expect(events[0]).toEqual(events[1]);
    expect((events[0] as { ws: { events: unknown[] } }).ws.events).toHaveLength(1);
  });

  it('a subscription with its id written in the document, or in a variable of another name, gets its events', async () => {
    // graphql-jit 0.8 hands a subscribe resolver the variables instead of the field's arguments, so subscriptions
    // are left to graphql-js: both forms must reach the job.
    const fields = 'id status isFinal';
    const answers = await Promise.all(
      [compiled, interpreted].map(async (gateway) => {
        const id = jobs.get(gateway)!;
        const literal = await collectSse(gateway, `subscription { aiEditJobUpdated(id: "${id}") { ${fields} } }`, {});
        const renamed = await collectSse(
          gateway,
          `subscription($job: ID!) { aiEditJobUpdated(id: $job) { ${fields} } }`,
          { job: id },
        );
        return normalized(gateway, { literal, renamed });
      }),
    );
    expect(answers[0]).toEqual(answers[1]);
    const { literal } = answers[0] as { literal: { events: GraphQLResponse[] } };
    expect(literal.events).toEqual([{ data: { aiEditJobUpdated: { id: '<job id>', status: 'DONE', isFinal: true } } }]);
  });

  it('a subscription refused in its subscribe (NOT_FOUND) and one with bad variables, over graphql-ws', async () => {
    const unknown = Buffer.from('AiEditJob:nope').toString('base64');
    const answers = await Promise.all(
      [compiled, interpreted].map(async (gateway) => {
        const client = wsClient(gateway);
        try {
          const notFound = await collect(client, UPDATED, { id: unknown }).done;
          const badVariables = await collect(client, UPDATED, { id: 5.5 }).done;
          return normalized(gateway, { notFound, badVariables });
        } finally {
          await client.dispose();
        }
      }),
    );
    expect(answers[0]).toEqual(answers[1]);
  });

  it('an unexpected failure is masked the same way, with a correlation id', async () => {
    await Promise.all([compiled, interpreted].map((g) => g.internals.store.close()));
    const { jit, js } = await both((job) => ({ query: READ_ALL, variables: { id: job } }));
    expect(jit).toEqual(js);
    expect(jit.body.errors?.[0]).toMatchObject({
      message: 'Unexpected error.',
      extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId: '<id>' },
    });
  });
});
