import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AiEditJobsUpdatedDocument,
  AiEditJobUpdatedDocument,
  ListAiEditJobsDocument,
  ReadAiEditJobDocument,
  SubmitAiEditDocument,
  UploadImageDocument,
} from '../client/gql/graphql.js';
import manifest from '../client/gql/persisted-documents.json' with { type: 'json' };
import type { Gateway } from '../src/gateway/build-gateway.js';
import { loadConfig } from '../src/gateway/config.js';
import { sha256 } from '../src/transport/security/use-persisted-operations.js';
import { startTestGateway } from './support/gateway.js';
import { wsClient } from './support/subscriptions.js';

// Trusted documents: the client preset's manifest (client/gql/persisted-documents.json) is what the gateway runs when
// PERSISTED_OPERATIONS=only; a client sends a hash instead of a document, over HTTP and over graphql-ws.

const hashOf = (document: unknown) => (document as { __meta__: { hash: string } }).__meta__.hash;
const hex = (hash: string) => hash.replace(/^sha256:/, '');

/** The accept header of Apollo Client 4's HttpLink. */
const APOLLO_ACCEPT = 'application/graphql-response+json,application/json;q=0.9';

/** A POST as Apollo Client 4's HttpLink sends it (behind its persisted-queries link). */
async function apolloPost(gateway: { url: string }, body: Record<string, unknown>) {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: APOLLO_ACCEPT },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

async function post(gateway: { url: string }, body: Record<string, unknown>) {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

function subscribeWs(
  gateway: Gateway,
  payload: { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> },
) {
  const client = wsClient(gateway);
  const events: any[] = [];
  const done = new Promise<{ events: any[]; error?: any }>((resolve) => {
    client.subscribe(payload, {
      next: (v) => events.push(v),
      error: (error) => resolve({ events, error }),
      complete: () => resolve({ events }),
    });
  });
  return { client, done };
}

describe('the committed manifest', () => {
  it('holds every operation of client/operations, each under the sha256 of its document', () => {
    const entries = Object.entries(manifest as Record<string, string>);
    const dir = new URL('../client/operations/', import.meta.url);
    const operations = readdirSync(dir)
      .filter((file) => file.endsWith('.graphql'))
      .flatMap((file) => readFileSync(new URL(file, dir), 'utf8').match(/^(query|mutation|subscription)\s/gm) ?? []);
    expect(operations.length).toBeGreaterThanOrEqual(4);
    expect(entries).toHaveLength(operations.length);
    for (const [hash, document] of entries) expect(hash).toBe(`sha256:${sha256(document)}`);
    for (const doc of [
      SubmitAiEditDocument,
      ReadAiEditJobDocument,
      ListAiEditJobsDocument,
      AiEditJobUpdatedDocument,
      UploadImageDocument,
      AiEditJobsUpdatedDocument,
    ]) {
      expect((manifest as Record<string, string>)[hashOf(doc)]).toBeDefined();
    }
  });
});

describe('PERSISTED_OPERATIONS=only', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ env: { PERSISTED_OPERATIONS: 'only', POLL_INTERVAL_MS: '40' } });
  });
  afterAll(() => gateway.stop());

  it('refuses an ad-hoc query with 400 PERSISTED_QUERY_ONLY', async () => {
    const res = await post(gateway, { query: '{ aiEditJobs { edges { node { id } } } }' });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
    expect(res.json.data).toBeUndefined();
    // The same text as the manifest's document is still ad hoc: only a hash names a trusted document.
    const same = await post(gateway, { query: print(ListAiEditJobsDocument) });
    expect(same.status).toBe(400);
  });

  it('runs manifest documents by documentId and by Apollo’s persistedQuery extension', async () => {
    const submitted = await post(gateway, {
      documentId: hashOf(SubmitAiEditDocument),
      variables: {
        input: {
          input: gateway.internals.simulator!.sampleUrl(),
          options: { prompt: 'add a duck' },
          clientMutationId: 'c1',
        },
      },
    });
    expect(submitted.status).toBe(200);
    expect(submitted.json.errors).toBeUndefined();
    const job = submitted.json.data.submitAiEdit.job;
    expect(job).toMatchObject({ status: 'ACCEPTED', isFinal: false });

    const read = await post(gateway, {
      variables: { id: job.id },
      extensions: { persistedQuery: { version: 1, sha256Hash: hex(hashOf(ReadAiEditJobDocument)) } },
    });
    expect(read.status).toBe(200);
    expect(read.json.data.aiEditJob.id).toBe(job.id);

    const list = await post(gateway, { documentId: hex(hashOf(ListAiEditJobsDocument)), variables: { first: 5 } });
    expect(list.json.data.aiEditJobs.edges.map((e: any) => e.node.id)).toContain(job.id);
  });

  it('runs a trusted subscription by hash over SSE too', async () => {
    const submitted = await post(gateway, {
      documentId: hashOf(SubmitAiEditDocument),
      variables: { input: { input: gateway.internals.simulator!.sampleUrl(), options: { prompt: 'add a duck' } } },
    });
    const id = submitted.json.data.submitAiEdit.job.id;
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ documentId: hashOf(AiEditJobUpdatedDocument), variables: { id } }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"status":"DONE"');
    expect(text).toContain('event: complete');
    const adHoc = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: 'subscription($id: ID!) { aiEditJobUpdated(id: $id) { status } }',
        variables: { id },
      }),
    });
    expect(await adHoc.text()).toContain('PERSISTED_QUERY_ONLY');
  });

  it('runs a trusted query by GET /graphql?documentId=…, which still needs the CSRF preflight header', async () => {
    const url = `${gateway.url}/graphql?documentId=${encodeURIComponent(hashOf(ListAiEditJobsDocument))}&variables=${encodeURIComponent(JSON.stringify({ first: 1 }))}`;
    const accept = 'application/graphql-response+json, application/json';
    const unguarded = await fetch(url, { headers: { accept } });
    expect(unguarded.status).toBe(403);
    expect(((await unguarded.json()) as any).errors[0].extensions.code).toBe('CSRF_PREVENTION');

    const res = await fetch(url, { headers: { accept, 'x-graphql-yoga-csrf': '1' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      data: { __typename: 'Query', aiEditJobs: { __typename: 'AiEditJobConnection', edges: expect.any(Array) } },
    });
    // A mutation stays POST-only, named by hash or not.
    const mutation = await fetch(
      `${gateway.url}/graphql?documentId=${encodeURIComponent(hashOf(SubmitAiEditDocument))}`,
      {
        headers: { accept, 'x-graphql-yoga-csrf': '1' },
      },
    );
    expect(mutation.status).toBe(405);
  });

  it('answers with __typename on every object, so a normalising cache (Apollo) can key the job', async () => {
    const submitted = await post(gateway, {
      documentId: hashOf(SubmitAiEditDocument),
      variables: { input: { input: gateway.internals.simulator!.sampleUrl(), options: { prompt: 'add a duck' } } },
    });
    expect(submitted.json.data).toMatchObject({
      __typename: 'Mutation',
      submitAiEdit: { __typename: 'SubmitAiEditPayload', job: { __typename: 'AiEditJob' } },
    });
    const read = await post(gateway, {
      documentId: hashOf(ReadAiEditJobDocument),
      variables: { id: submitted.json.data.submitAiEdit.job.id },
    });
    const job = read.json.data.aiEditJob;
    expect(job.__typename).toBe('AiEditJob');
    expect(job.history.length).toBeGreaterThan(0);
    for (const change of job.history) expect(change.__typename).toBe('AiEditStatusChange');
  });

  it('refuses Apollo’s automatic persisted query registration: only the manifest runs', async () => {
    const query = 'query Mine { aiEditJobs(first: 1) { pageInfo { hasNextPage } } }';
    const persistedQuery = { version: 1, sha256Hash: sha256(query) };
    const miss = await apolloPost(gateway, { operationName: 'Mine', variables: {}, extensions: { persistedQuery } });
    expect(miss.status).toBe(400);
    expect(miss.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const register = await apolloPost(gateway, {
      operationName: 'Mine',
      variables: {},
      extensions: { persistedQuery },
      query,
    });
    expect(register.status).toBe(400);
    expect(register.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
    expect(register.json.data).toBeUndefined();
    const again = await apolloPost(gateway, { operationName: 'Mine', variables: {}, extensions: { persistedQuery } });
    expect(again.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('answers an unknown hash with 400 PERSISTED_QUERY_NOT_FOUND', async () => {
    const res = await post(gateway, { documentId: `sha256:${'0'.repeat(64)}` });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const wrongType = await post(gateway, { documentId: 42 });
    expect(wrongType.status).toBe(400);
  });

  it('subscribes over graphql-ws by hash, and refuses an ad-hoc subscription without dropping the socket', async () => {
    const submitted = await post(gateway, {
      documentId: hashOf(SubmitAiEditDocument),
      variables: { input: { input: gateway.internals.simulator!.sampleUrl(), options: { prompt: 'add a duck' } } },
    });
    const id = submitted.json.data.submitAiEdit.job.id;

    const adHoc = subscribeWs(gateway, {
      query: 'subscription($id: ID!) { aiEditJobUpdated(id: $id) { status } }',
      variables: { id },
    });
    const refused = await adHoc.done;
    expect(refused.events).toEqual([]);
    expect(JSON.stringify(refused.error)).toContain('PERSISTED_QUERY_ONLY');
    expect(JSON.stringify(refused.error)).not.toContain('"http"');

    // The same socket (graphql-ws reuses it) then runs the trusted subscription to the end.
    const trusted = new Promise<{ events: any[]; error?: unknown }>((resolve) => {
      const events: any[] = [];
      adHoc.client.subscribe(
        {
          query: '',
          variables: { id },
          extensions: { persistedQuery: { version: 1, sha256Hash: hex(hashOf(AiEditJobUpdatedDocument)) } },
        },
        {
          next: (v) => events.push(v),
          error: (error) => resolve({ events, error }),
          complete: () => resolve({ events }),
        },
      );
    });
    const result = await trusted;
    await adHoc.client.dispose();
    expect(result.error).toBeUndefined();
    expect(result.events.at(-1).data.aiEditJobUpdated).toMatchObject({ id, status: 'DONE', isFinal: true });
  });
});

describe('PERSISTED_OPERATIONS=allow', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ env: { PERSISTED_OPERATIONS: 'allow' } });
  });
  afterAll(() => gateway.stop());

  it('runs ad-hoc documents and hashes alike, over HTTP and graphql-ws', async () => {
    const adHoc = await post(gateway, { query: '{ aiEditJobs { edges { node { id } } } }' });
    expect(adHoc).toEqual({ status: 200, json: { data: { aiEditJobs: { edges: [] } } } });
    const byHash = await post(gateway, { documentId: hashOf(ListAiEditJobsDocument), variables: { first: 1 } });
    expect(byHash.status).toBe(200);
    expect(byHash.json).toMatchObject({ data: { aiEditJobs: { edges: [], pageInfo: { hasNextPage: false } } } });

    const unknownJob = 'QWlFZGl0Sm9iOjk5OQ==';
    for (const payload of [
      { query: 'subscription($id: ID!) { aiEditJobUpdated(id: $id) { status } }', variables: { id: unknownJob } },
      {
        query: '',
        variables: { id: unknownJob },
        extensions: { persistedQuery: { version: 1, sha256Hash: hashOf(AiEditJobUpdatedDocument) } },
      },
    ]) {
      const { client, done } = subscribeWs(gateway, payload);
      const result = await done;
      await client.dispose();
      // Both ran: each reached the resolver, which refuses an unknown job with NOT_FOUND.
      expect(JSON.stringify(result)).toContain('NOT_FOUND');
    }
  });
});

describe('PERSISTED_OPERATIONS=allow with Apollo’s automatic persisted queries', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ env: { PERSISTED_OPERATIONS: 'allow' } });
  });
  afterAll(() => gateway.stop());

  // What Apollo Client's persisted-queries link sends: the sha256 of graphql's print() of the document (after its
  // cache added __typename), first alone, then, on PERSISTED_QUERY_NOT_FOUND, again with the document.
  const query = print(
    parse('query Recent($first: Int) { aiEditJobs(first: $first) { __typename edges { __typename cursor } } }'),
  );
  const persistedQuery = { version: 1, sha256Hash: sha256(query) };
  const hashOnly = { operationName: 'Recent', variables: { first: 2 }, extensions: { persistedQuery } };

  it('a miss, then the document with its matching hash runs, and then the hash alone does', async () => {
    const miss = await apolloPost(gateway, hashOnly);
    expect(miss.status).toBe(400);
    expect(miss.json.errors[0]).toMatchObject({
      message: expect.stringMatching(/^PersistedQueryNotFound/),
      extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
    });
    const withDocument = await apolloPost(gateway, { ...hashOnly, query });
    expect(withDocument).toEqual({
      status: 200,
      json: { data: { aiEditJobs: { __typename: 'AiEditJobConnection', edges: [] } } },
    });
    expect(await apolloPost(gateway, hashOnly)).toEqual(withDocument);
    // Apollo's useGETForHashedQueries sends the same as a GET (with the preflight header, as every GET needs).
    const params = new URLSearchParams({
      operationName: 'Recent',
      variables: JSON.stringify({ first: 2 }),
      extensions: JSON.stringify({ persistedQuery }),
    });
    const get = await fetch(`${gateway.url}/graphql?${params}`, {
      headers: { accept: APOLLO_ACCEPT, 'apollo-require-preflight': 'true' },
    });
    expect({ status: get.status, json: await get.json() }).toEqual(withDocument);
  });

  it('refuses a document whose sha256 is not the hash it came with, and runs nothing', async () => {
    const other = 'query Other { aiEditJobs(first: 100) { edges { node { id } } } }';
    const mismatch = await apolloPost(gateway, {
      operationName: 'Other',
      variables: {},
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256(`${other} `) } },
      query: other,
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.json.data).toBeUndefined();
    expect(mismatch.json.errors[0]).toMatchObject({
      message: expect.stringMatching(/^PersistedQueryHashMismatch/),
      extensions: { code: 'BAD_REQUEST' },
    });
    // Nor was the document remembered under that hash.
    const after = await apolloPost(gateway, {
      operationName: 'Other',
      variables: {},
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256(`${other} `) } },
    });
    expect(after.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });
});

describe('PERSISTED_OPERATIONS=off and start-up', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'manifest-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('off (the default) knows no documentId', async () => {
    expect(loadConfig({}).security.persistedOperations).toBe('off');
    const gateway = await startTestGateway();
    try {
      const res = await post(gateway, { documentId: hashOf(ListAiEditJobsDocument) });
      expect(res.status).toBe(400);
    } finally {
      await gateway.stop();
    }
  });

  it('refuses to start without a readable manifest, or with an entry that does not match its hash', async () => {
    await expect(
      startTestGateway({
        env: { PERSISTED_OPERATIONS: 'only', PERSISTED_OPERATIONS_MANIFEST: join(dir, 'missing.json') },
      }),
    ).rejects.toThrow(/PERSISTED_OPERATIONS=only needs a manifest.*missing\.json/);
    const tampered = join(dir, 'tampered.json');
    writeFileSync(
      tampered,
      JSON.stringify({ [hashOf(ListAiEditJobsDocument)]: '{ aiEditJobs(first: 100) { edges { node { id } } } }' }),
    );
    await expect(
      startTestGateway({ env: { PERSISTED_OPERATIONS: 'only', PERSISTED_OPERATIONS_MANIFEST: tampered } }),
    ).rejects.toThrow(/does not match/);
  });

  it('loads another manifest from PERSISTED_OPERATIONS_MANIFEST', async () => {
    const document = 'query Hello { __typename }';
    const file = join(dir, 'own.json');
    writeFileSync(file, JSON.stringify({ [sha256(document)]: document }));
    const gateway = await startTestGateway({
      env: { PERSISTED_OPERATIONS: 'only', PERSISTED_OPERATIONS_MANIFEST: file },
    });
    try {
      expect((await post(gateway, { documentId: sha256(document) })).json).toEqual({ data: { __typename: 'Query' } });
      expect((await post(gateway, { documentId: hashOf(ListAiEditJobsDocument) })).status).toBe(400);
    } finally {
      await gateway.stop();
    }
  });
});
