import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { loadConfig } from '../src/gateway/config.js';
import { captureLogger, gql, READ, startTestGateway } from './support/gateway.js';
import { wsClient } from './support/subscriptions.js';

// Every limit is hit over a real socket, answered with a status or a code, and the gateway keeps serving others.

const JSON_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/graphql-response+json, application/json',
};

async function post(gateway: { url: string }, body: unknown, headers: Record<string, string> = JSON_HEADERS) {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function stillServes(gateway: { url: string }) {
  const res = await gql(gateway, '{ __typename }');
  expect(res).toEqual({ data: { __typename: 'Query' } });
}

const aliases = (n: number, field = '__typename') =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

describe('limits with the defaults', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(() => gateway.stop());

  it('lets the full introspection query of GraphiQL and codegen through', async () => {
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    });
    const res = await post(gateway, { query, operationName: 'IntrospectionQuery' });
    expect(res.status).toBe(200);
    expect(res.json.errors).toBeUndefined();
    expect(res.json.data.__schema.queryType.name).toBe('Query');
  });

  it('answers a body over MAX_BODY_BYTES with 413 before parsing it', async () => {
    const res = await post(gateway, { query: '{ __typename }', variables: { pad: 'x'.repeat(150 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.json.errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
    await stillServes(gateway);
  });

  it('answers a chunked body (no content-length) over MAX_BODY_BYTES with 413', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }","variables":{"pad":"'));
        if (sent > 20) {
          controller.enqueue(new TextEncoder().encode('"}}'));
          controller.close();
          return;
        }
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    await res.text();
    await stillServes(gateway);
  });

  it('refuses a document longer than MAX_DOCUMENT_LENGTH before parsing it', async () => {
    const res = await post(gateway, { query: `{ __typename ${'#'.repeat(12_000)}\n }` });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'documentLength' });
    await stillServes(gateway);
  });

  it('counts every alias, aliased __typename included (armor leaves those out by default)', async () => {
    const ok = await post(gateway, { query: aliases(15) });
    expect(ok.status).toBe(200);
    const res = await post(gateway, { query: aliases(16) });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
    expect(res.json.data).toBeUndefined();
  });

  it('caps repeated __typename, which field merging would otherwise make free to repeat', async () => {
    const ok = await post(gateway, { query: `{ ${'__typename '.repeat(20)}}` });
    expect(ok.status).toBe(200);
    const res = await post(gateway, { query: `{ ${'__typename '.repeat(21)}}` });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'typename' });
  });

  it('caps directives', async () => {
    const res = await post(gateway, { query: `{ __typename ${'@include(if: true) '.repeat(11)}}` });
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: any) => e.extensions?.limit)).toContain('directives');
  });

  it('refuses a batch (an array body) with 400', async () => {
    const res = await post(gateway, [{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(res.status).toBe(400);
    expect(res.json.errors[0].message).toMatch(/Batching is not supported/);
  });

  it('refuses a mutation over GET with 405 (even with the CSRF header)', async () => {
    const url = `${gateway.url}/graphql?query=${encodeURIComponent('mutation { submitAiEdit(input: { input: "https://e.com/a.jpg", options: { prompt: "add a duck" } }) { job { id } } }')}`;
    const res = await fetch(url, { headers: { 'x-graphql-yoga-csrf': '1', accept: 'application/json' } });
    expect(res.status).toBe(405);
    expect(((await res.json()) as any).errors[0].message).toMatch(/POST/);
    const LIST = '{ aiEditJobs { edges { node { id } } } }';
    expect((await gql(gateway, LIST)).data?.aiEditJobs.edges).toEqual([]);
    // The same mutation over POST makes a job that the list shows, so an empty list above means none was made.
    const made = await post(gateway, {
      query:
        'mutation { submitAiEdit(input: { input: "https://e.com/a.jpg", options: { prompt: "add a duck" } }) { job { id } } }',
    });
    expect(made.json.errors).toBeUndefined();
    expect((await gql(gateway, LIST)).data?.aiEditJobs.edges).toEqual([
      { node: { id: made.json.data.submitAiEdit.job.id } },
    ]);
  });

  it('runs the test suites’ own deep read queries within the limits', async () => {
    const res = await gql(gateway, READ, { id: 'QWlFZGl0Sm9iOjE=' });
    expect(res.errors).toBeUndefined();
  });
});

describe('limits set low', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ env: { MAX_QUERY_DEPTH: '3', MAX_QUERY_COST: '40', MAX_TOKENS: '60' } });
  });
  afterAll(() => gateway.stop());

  it('refuses a query deeper than MAX_QUERY_DEPTH', async () => {
    const res = await post(gateway, {
      query: '{ aiEditJobs { edges { node { result { outputObjects { tmpUrl } } } } } }',
    });
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: any) => e.extensions)).toContainEqual(
      expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', limit: 'depth' }),
    );
  });

  it('refuses a query costlier than MAX_QUERY_COST', async () => {
    const page = 'aiEditJobs { pageInfo { hasNextPage endCursor startCursor hasPreviousPage } edges { cursor } }';
    const res = await post(gateway, { query: `{ a: ${page} b: ${page} c: ${page} }` });
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: any) => e.extensions)).toContainEqual(
      expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', limit: 'cost' }),
    );
  });

  it('refuses a document with more than MAX_TOKENS tokens', async () => {
    const res = await post(gateway, {
      query: `query Q(${Array.from({ length: 20 }, (_, i) => `$v${i}: Int`).join(' ')}) { __typename }`,
    });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'tokens' });
    await stillServes(gateway);
  });

  it('applies the same limits to graphql-ws operations', async () => {
    const client = wsClient(gateway);
    try {
      const error = await new Promise<unknown>((resolve) => {
        client.subscribe(
          { query: 'subscription { aiEditJobUpdated(id: "x") { result { outputObjects { tmpUrl } } } }' },
          { next: () => undefined, error: resolve, complete: () => resolve(undefined) },
        );
      });
      expect(JSON.stringify(error)).toMatch(/QUERY_TOO_COMPLEX/);
    } finally {
      await client.dispose();
    }
  });
});

describe('CSRF prevention', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(() => gateway.stop());

  const query = encodeURIComponent('{ __typename }');

  it('refuses a GET without a preflight header (a cross-site <img> or <script> could send it)', async () => {
    const res = await fetch(`${gateway.url}/graphql?query=${query}`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('CSRF_PREVENTION');
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['a form post', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
  ])('refuses a POST with a simple content type (%s)', async (_name, contentType) => {
    const res = await post(gateway, { query: '{ __typename }' }, { 'content-type': contentType });
    expect(res.status).toBe(403);
    expect(res.json.errors[0].extensions.code).toBe('CSRF_PREVENTION');
  });

  it('refuses a POST without a content type', async () => {
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      body: new Uint8Array(Buffer.from('{"query":"{ __typename }"}')),
    });
    expect(res.status).toBe(403);
  });

  it('accepts GET with x-graphql-yoga-csrf or apollo-require-preflight, and JSON POSTs', async () => {
    for (const header of ['x-graphql-yoga-csrf', 'apollo-require-preflight']) {
      const res = await fetch(`${gateway.url}/graphql?query=${query}`, {
        headers: { [header]: '1', accept: 'application/json' },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
    }
    await stillServes(gateway);
  });

  it('still serves the GraphiQL page to a browser GET', async () => {
    const res = await fetch(`${gateway.url}/graphql`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/GraphiQL|graphiql/);
  });

  it('leaves /health and /ready alone', async () => {
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/ready`)).status).toBe(200);
  });
});

describe('CORS allow-list and Origin checks', () => {
  const ALLOWED = 'https://app.example.com';
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ env: { CORS_ORIGINS: `${ALLOWED}, https://admin.example.com` } });
  });
  afterAll(() => gateway.stop());

  it('answers an allowed origin’s preflight and request with CORS headers', async () => {
    const preflight = await fetch(`${gateway.url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/content-type/);
    const res = await post(gateway, { query: '{ __typename }' }, { ...JSON_HEADERS, origin: ALLOWED });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('refuses any other origin with 403 and no CORS headers', async () => {
    const res = await post(gateway, { query: '{ __typename }' }, { ...JSON_HEADERS, origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(res.json.errors[0].extensions.code).toBe('ORIGIN_NOT_ALLOWED');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${gateway.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const nullOrigin = await post(gateway, { query: '{ __typename }' }, { ...JSON_HEADERS, origin: 'null' });
    expect(nullOrigin.status).toBe(403);
  });

  it('accepts the gateway’s own origin (GraphiQL served from it)', async () => {
    const res = await post(gateway, { query: '{ __typename }' }, { ...JSON_HEADERS, origin: gateway.url });
    expect(res.status).toBe(200);
  });

  it('without CORS_ORIGINS allows no cross-origin caller', () => {
    expect(loadConfig({}).security.corsOrigins).toEqual([]);
  });

  async function upgrade(origin: string | undefined): Promise<number | 'open'> {
    const socket = new WebSocket(
      `${gateway.url.replace(/^http/, 'ws')}/graphql`,
      'graphql-transport-ws',
      origin ? { origin } : {},
    );
    return new Promise((resolve) => {
      socket.once('open', () => {
        socket.close();
        resolve('open');
      });
      socket.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('error', () => undefined);
    });
  }

  it('refuses a WebSocket upgrade from a foreign origin with 403 and accepts allowed, own and absent origins', async () => {
    expect(await upgrade('https://evil.example')).toBe(403);
    expect(await upgrade(ALLOWED)).toBe('open');
    expect(await upgrade(gateway.url)).toBe('open');
    expect(await upgrade(undefined)).toBe('open');
  });
});

describe('introspection policy', () => {
  const INTROSPECT = '{ __schema { queryType { name } } }';

  it('INTROSPECTION=off refuses __schema and __type but runs everything else, and hides field suggestions', async () => {
    const gateway = await startTestGateway({ env: { INTROSPECTION: 'off' } });
    try {
      for (const query of [
        INTROSPECT,
        '{ __type(name: "AiEditJob") { name } }',
        '{ a: __schema { types { name } } }',
      ]) {
        const res = await gql(gateway, query);
        expect(res.data ?? null).toBeNull();
        expect(res.errors?.[0]?.extensions?.code).toBe('INTROSPECTION_DISABLED');
      }
      await stillServes(gateway);
      const typo = await gql(gateway, '{ aiEditJo(id: "x") { id } }');
      expect(JSON.stringify(typo.errors)).not.toMatch(/Did you mean/);
    } finally {
      await gateway.stop();
    }
  });

  it('INTROSPECTION=authenticated allows it to a caller with credentials only', async () => {
    const gateway = await startTestGateway({
      env: {
        INTROSPECTION: 'authenticated',
        AUTH_MODE: 'apikey',
        GATEWAY_API_KEYS: 'tooling:tooling-key-0001',
        ALLOW_ANONYMOUS: 'true',
      },
    });
    try {
      const anonymous = await gql(gateway, INTROSPECT);
      expect(anonymous.errors?.[0]?.extensions?.code).toMatch(/INTROSPECTION_DISABLED|UNAUTHENTICATED/);
      expect(anonymous.data?.__schema).toBeUndefined();
      const tooling = await gql(gateway, INTROSPECT, undefined, { authorization: 'Bearer tooling-key-0001' });
      expect(tooling).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    } finally {
      await gateway.stop();
    }
  });

  it('INTROSPECTION defaults to on and refuses unknown values with one line', () => {
    expect(loadConfig({}).security.introspection).toBe('on');
    expect(() => loadConfig({ INTROSPECTION: 'maybe' })).toThrow(
      /^Invalid INTROSPECTION="maybe": must be one of on, authenticated, off$/,
    );
  });
});

describe('masked internal errors', () => {
  it('answers an unexpected failure with "Unexpected error." and a correlation id, and logs the cause under that id', async () => {
    const { logger, text } = captureLogger('error');
    const gateway = await startTestGateway({ logger });
    try {
      await gateway.internals.store.close();
      const res = await gql(gateway, '{ aiEditJobs { edges { node { id } } } }');
      expect(res.errors).toHaveLength(1);
      const [error] = res.errors!;
      expect(error!.message).toBe('Unexpected error.');
      expect(error!.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', correlationId: expect.any(String) });
      expect(JSON.stringify(res)).not.toMatch(/database|sqlite|stack/i);
      expect(text()).toContain(error!.extensions!.correlationId);
      await stillServes(gateway);
    } finally {
      await gateway.stop().catch(() => undefined);
    }
  });
});

describe('hardening configuration', () => {
  it.each([
    ['MAX_BODY_BYTES', '10', /MAX_BODY_BYTES.*at least 1024/],
    ['MAX_DOCUMENT_LENGTH', 'long', /MAX_DOCUMENT_LENGTH.*whole number/],
    ['MAX_QUERY_DEPTH', '0', /MAX_QUERY_DEPTH.*at least 1/],
    ['MAX_QUERY_COST', '1.5', /MAX_QUERY_COST.*whole number/],
    ['MAX_TOKENS', '5', /MAX_TOKENS.*at least 10/],
    ['MAX_ALIASES', '-1', /MAX_ALIASES.*at least 0/],
    ['MAX_DIRECTIVES', '5000', /MAX_DIRECTIVES.*at most 1000/],
    ['MAX_TYPENAME_FIELDS', 'x', /MAX_TYPENAME_FIELDS.*whole number/],
    ['CORS_ORIGINS', 'https://a.example/path', /CORS_ORIGINS.*origins like/],
    ['CORS_ORIGINS', '*', /CORS_ORIGINS.*origins like/],
    ['PERSISTED_OPERATIONS', 'yes', /PERSISTED_OPERATIONS.*one of off, allow, only/],
  ])('refuses %s=%s with one line naming it', (name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('parses CORS_ORIGINS into exact, lower-case origins', () => {
    expect(
      loadConfig({ CORS_ORIGINS: 'https://App.example.com/, http://localhost:5173' }).security.corsOrigins,
    ).toEqual(['https://app.example.com', 'http://localhost:5173']);
  });
});
