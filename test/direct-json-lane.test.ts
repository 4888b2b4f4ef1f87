import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { regularMediaType } from '../src/transport/direct-json-lane.js';
import { gql, JOB_FIELDS, readUntilFinal, SUBMIT, startTestGateway } from './support/gateway.js';

// The direct JSON lane (src/transport/direct-json-lane.ts) answers plain JSON POSTs without Yoga's fetch adapters.
// Every answer it gives must be the one Yoga gives: each request here is sent twice, once as the lane takes it
// (Content-Length) and once chunked, which the lane leaves to Yoga, and the two answers must match byte for byte.

const READ = /* GraphQL */ `query Read($id: ID!) { aiEditJob(id: $id) { ${JOB_FIELDS} } }`;
const JSON_ACCEPT = 'application/graphql-response+json, application/json';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Headers of one connection or one moment; the rest of the answer must be identical. */
const MOMENT = ['date', 'x-request-id', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'];

function post(url: string, body: string, headers: Record<string, string>, chunked: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/graphql`,
      {
        method: 'POST',
        headers: chunked ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          const kept = Object.fromEntries(Object.entries(res.headers).filter(([name]) => !MOMENT.includes(name)));
          resolve({ status: res.statusCode ?? 0, headers: kept, body: text });
        });
      },
    );
    req.on('error', reject);
    // Two writes without a Content-Length: node sends the body chunked.
    if (chunked) req.write(body.slice(0, 1));
    req.end(chunked ? body.slice(1) : body);
  });
}

let gateway: Gateway;
let jobId: string;

beforeAll(async () => {
  gateway = await startTestGateway({
    env: { READ_CACHE_MAX_BYTES: '0', CORS_ORIGINS: 'https://app.example.com', MAX_DEPTH: '6' },
  });
  const submitted = await gql(gateway, SUBMIT, {
    input: { input: gateway.internals.simulator!.sampleUrl(), options: { prompt: 'add a duck' } },
  });
  jobId = submitted.data!.submitAiEdit.job.id;
  // Final, so that it reads the same each time: a job still walking may move between a case's two requests.
  await readUntilFinal(gateway, jobId);
});
afterAll(async () => {
  await gateway?.stop();
});

/** The lane's answer and Yoga's to the same request, and whether Yoga's handler ran for the first. */
async function bothWays(body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const all = { 'content-type': 'application/json', accept: JSON_ACCEPT, ...headers };
  const { stats } = gateway.internals.directLane;
  const answered = stats.answered;
  const direct = await post(gateway.url, text, all, false);
  const viaYogaForDirect = stats.answered === answered;
  const yoga = await post(gateway.url, text, all, true);
  expect(stats.answered, 'a chunked body is left to Yoga').toBe(viaYogaForDirect ? answered : answered + 1);
  return { direct, yoga, viaYogaForDirect };
}

describe('the direct JSON lane answers as Yoga does', () => {
  const cases: [string, () => unknown, Record<string, string>?][] = [
    ['a read of a job', () => ({ query: READ, variables: { id: jobId }, operationName: 'Read' })],
    ['a validation error', () => ({ query: '{ nope }' })],
    ['a syntax error', () => ({ query: '{ aiEditJob(' })],
    ['a malformed global id (BAD_USER_INPUT, data null)', () => ({ query: '{ aiEditJob(id: "x") { id } }' })],
    [
      'a refused mutation',
      () => ({ query: 'mutation { submitAiEdit(input: { input: "x", options: { prompt: "p" } }) { job { id } } }' }),
    ],
    [
      'a subscription asked for in JSON (406)',
      () => ({ query: `subscription { aiEditJobUpdated(id: "${jobId}") { id } }` }),
    ],
    [
      'a document over MAX_DEPTH',
      () => ({ query: `{ aiEditJobs { edges { node { request { output { format } } } } } }` }),
    ],
    ['a missing variable', () => ({ query: READ })],
    ['several operations without operationName', () => ({ query: 'query A { __typename } query B { __typename }' })],
    ['an operationName naming no operation', () => ({ query: '{ __typename }', operationName: 'Nope' })],
    ['a same-origin browser POST', () => ({ query: '{ __typename }' }), { origin: 'http://HOST' }],
    ['plain application/json', () => ({ query: '{ __typename }' }), { accept: 'application/json' }],
  ];
  for (const [name, body, headers] of cases) {
    it(`${name}, in the lane`, async () => {
      const host = new URL(gateway.url).host;
      const resolved = Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, v.replace('HOST', host)]));
      const { direct, yoga, viaYogaForDirect } = await bothWays(body(), resolved);
      expect(viaYogaForDirect).toBe(false);
      expect(direct).toEqual(yoga);
      expect(direct.status === 406 || direct.body.length > 0).toBe(true);
    });
  }

  const toYoga: [string, unknown, Record<string, string>][] = [
    ['a body that is not JSON', '{"query": ', {}],
    ['an unknown parameter', { query: '{ __typename }', documentId: 'abc' }, {}],
    [
      'a caller in CORS_ORIGINS (needs CORS headers)',
      { query: '{ __typename }' },
      { origin: 'https://app.example.com' },
    ],
    ['a cross-origin caller outside CORS_ORIGINS', { query: '{ __typename }' }, { origin: 'https://evil.example.com' }],
    ['an Accept that allows event streams', { query: '{ __typename }' }, { accept: '*/*' }],
  ];
  for (const [name, body, headers] of toYoga) {
    it(`${name}, left to Yoga`, async () => {
      const { direct, yoga, viaYogaForDirect } = await bothWays(body, headers);
      expect(viaYogaForDirect).toBe(true);
      expect(direct).toEqual(yoga);
    });
  }

  it('the job read is real data', async () => {
    const { direct } = await bothWays({ query: READ, variables: { id: jobId } });
    expect(JSON.parse(direct.body).data.aiEditJob.id).toBe(jobId);
    expect(direct.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
  });
});

describe('regularMediaType picks the type Yoga would', () => {
  it.each([
    ['application/graphql-response+json, application/json', 'application/graphql-response+json'],
    ['application/json', 'application/json'],
    ['application/json, application/graphql-response+json', 'application/json'],
    ['application/graphql-response+json,application/json;q=0.9', 'application/graphql-response+json'],
    ['application/*', 'application/json'],
    ['application/json; charset=latin1', undefined],
    ['text/html', undefined],
    ['*/*', undefined],
    [undefined, undefined],
    ['application/json, text/event-stream', undefined],
  ])('%s -> %s', (accept, expected) => {
    expect(regularMediaType(accept)).toBe(expected);
  });
});
