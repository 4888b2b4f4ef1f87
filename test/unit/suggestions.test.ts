import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBMIT } from '../support/gateway.js';
import { buildInProcessGateway, type InProcessGateway } from './support/in-process.js';

// "Did you mean …?" names parts of the schema. Wherever introspection is not open to the caller, no error suggests
// anything: not validation (fields, arguments, types, enum and input-field literals, fragments) and not the
// coercion of variables when the operation runs.

const INPUT = 'https://images.example/a.jpg';

/** Each kind of suggestion graphql gives, the request that provokes it, and the part of the message that stays. */
const KINDS: [string, string, Record<string, unknown> | undefined, RegExp][] = [
  [
    'a field',
    '{ aiEditJobs { edgs { cursor } } }',
    undefined,
    /Cannot query field "edgs" on type "AiEditJobConnection"\./,
  ],
  [
    'an argument',
    '{ aiEditJobs(statuss: [DONE]) { pageInfo { hasNextPage } } }',
    undefined,
    /Unknown argument "statuss"/,
  ],
  [
    'a type',
    'query($s: [AiEditJobStatu!]) { aiEditJobs(status: $s) { pageInfo { hasNextPage } } }',
    undefined,
    /Unknown type "AiEditJobStatu"\./,
  ],
  [
    'an enum literal',
    '{ aiEditJobs(status: [DON]) { pageInfo { hasNextPage } } }',
    undefined,
    /Value "DON" does not exist in "AiEditJobStatus" enum\./,
  ],
  [
    'an input-field literal',
    `mutation { submitAiEdit(input: { input: "${INPUT}", options: { promt: "add a duck" } }) { job { id } } }`,
    undefined,
    /Field "promt" is not defined by type "AiEditOptionsInput"\./,
  ],
  [
    'an inline fragment',
    '{ node(id: "x") { upstreamId } }',
    undefined,
    /Cannot query field "upstreamId" on type "Node"\./,
  ],
  [
    'an enum value in variables',
    'query($s: [AiEditJobStatus!]) { aiEditJobs(status: $s) { pageInfo { hasNextPage } } }',
    { s: ['DON'] },
    /Value "DON" does not exist in "AiEditJobStatus" enum\./,
  ],
  [
    'an input field in variables',
    SUBMIT,
    { input: { input: INPUT, options: { prompt: 'add a duck', guidanceScal: 2 } } },
    /Field "guidanceScal" is not defined by type "AiEditOptionsInput"\./,
  ],
];

async function messages(api: InProcessGateway, query: string, variables?: Record<string, unknown>) {
  const body = await api.gql(query, variables);
  expect(body.errors?.length, JSON.stringify(body)).toBeGreaterThan(0);
  return body.errors!.map((e) => e.message).join('\n');
}

describe.each([
  ['INTROSPECTION=off', { INTROSPECTION: 'off' }],
  ['INTROSPECTION=authenticated, a caller without credentials', { INTROSPECTION: 'authenticated' }],
])('%s', (_name, env) => {
  let api: InProcessGateway;
  beforeAll(async () => {
    api = await buildInProcessGateway({ env });
  });
  afterAll(() => api.close());

  it.each(KINDS)('suggests nothing for %s', async (_kind, query, variables, kept) => {
    const text = await messages(api, query, variables);
    expect(text).toMatch(kept);
    expect(text).not.toMatch(/Did you mean/);
    expect(text).not.toMatch(/Suggestion hidden/);
  });
});

describe('INTROSPECTION=on', () => {
  let api: InProcessGateway;
  beforeAll(async () => {
    api = await buildInProcessGateway({ env: { INTROSPECTION: 'on' } });
  });
  afterAll(() => api.close());

  it.each(KINDS)('keeps the suggestion for %s', async (_kind, query, variables, kept) => {
    const text = await messages(api, query, variables);
    expect(text).toMatch(kept);
    expect(text).toMatch(/Did you mean .+\?/);
  });
});
