import { Client, fetchExchange } from '@urql/core';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ReadAiEditJobDocument } from '../client/gql/graphql.js';
import * as apollo from '../examples/apollo-client.js';
import * as urql from '../examples/urql-client.js';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { startTestGateway } from './support/gateway.js';

// The README's frontend recipes, run as written: the example modules themselves, with real Apollo Client and urql,
// against a gateway on loopback with its embedded simulator.

const WALK = ['ACCEPTED', 'WAITING', 'PROCESSING', 'DONE'];
const KEYS = { alice: 'alice-key-0001', bob: 'bob-key-0002' };

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function gateway(env: Record<string, string> = {}): Promise<Gateway> {
  // Steps long enough that a subscription opened after the submit sees the job change.
  const g = await startTestGateway({ env: { SIMULATOR_STEP_MS: '200', ...env } });
  cleanups.push(() => g.stop());
  return g;
}

const endpoint = (g: Gateway) => `${g.url}/graphql`;

/** The README's first edit. */
const firstEdit = (g: Gateway) => ({
  input: g.internals.simulator!.sampleUrl('living-room'),
  options: { prompt: 'add a duck' },
});

interface RecipeClient<C> {
  client: C;
  dispose(): Promise<void>;
}
interface Recipe<C> {
  submitEdit(client: C, input: ReturnType<typeof firstEdit>): Promise<{ id: string; status: string }>;
  readJob(client: C, id: string): Promise<{ id: string; status: string; updatedAt: string } | null>;
  watchJob(client: C, id: string, onUpdate?: (job: { status: string }) => void): Promise<any>;
}

/** Submit, read, subscribe until DONE, read again: what a page showing one edit does. */
async function runFirstEdit<C>(g: Gateway, recipe: Recipe<C>, { client, dispose }: RecipeClient<C>) {
  cleanups.push(dispose);
  const submitted = await recipe.submitEdit(client, firstEdit(g));
  expect(submitted.id).toEqual(expect.any(String));
  expect(WALK).toContain(submitted.status);

  const read = await recipe.readJob(client, submitted.id);
  expect(read?.id).toBe(submitted.id);

  const seen: string[] = [];
  const final = await recipe.watchJob(client, submitted.id, (job) => seen.push(job.status));
  expect(final.status).toBe('DONE');
  expect(seen.at(-1)).toBe('DONE');
  // Never backwards, and more than the final state alone: the subscription was live, not a late read.
  expect(seen.map((s) => WALK.indexOf(s))).toEqual([...seen.map((s) => WALK.indexOf(s))].sort((a, b) => a - b));
  expect(seen.length).toBeGreaterThan(1);

  const tmpUrl = final.result.outputObjects[0].tmpUrl as string;
  const image = await fetch(tmpUrl);
  expect(image.status).toBe(200);
  expect(image.headers.get('content-type')).toMatch(/^image\//);

  const reread = await recipe.readJob(client, submitted.id);
  expect(reread?.status).toBe('DONE');
  expect(new Date(reread!.updatedAt).toISOString()).toBe(reread!.updatedAt);
  await dispose();
  return submitted.id;
}

describe('Apollo Client 4 (examples/apollo-client.ts)', () => {
  it('submits the first edit over HTTP, reads it and follows it over graphql-ws to DONE', async () => {
    const g = await gateway();
    await runFirstEdit(g, apollo, apollo.createApolloClient({ url: endpoint(g), webSocketImpl: WebSocket }));
  });
});

describe('urql 6 (examples/urql-client.ts)', () => {
  it.each(['ws', 'sse'] as const)('submits the first edit, reads it and follows it over %s to DONE', async (via) => {
    const g = await gateway();
    await runFirstEdit(
      g,
      urql,
      urql.createUrqlClient({ url: endpoint(g), subscriptions: via, webSocketImpl: WebSocket }),
    );
  });

  it("refuses urql's default GET query (403 CSRF_PREVENTION); the recipe's POST or the preflight header avoid it", async () => {
    const g = await gateway();
    const methods: string[] = [];
    const recordingFetch: typeof fetch = (input, init) => {
      methods.push(init?.method ?? 'GET');
      return fetch(input, init);
    };
    const submitter = urql.createUrqlClient({ url: endpoint(g), webSocketImpl: WebSocket });
    cleanups.push(submitter.dispose);
    const id = (await urql.submitEdit(submitter.client, firstEdit(g))).id;

    const naive = new Client({ url: endpoint(g), fetch: recordingFetch, exchanges: [fetchExchange] });
    const refused = await naive.query(ReadAiEditJobDocument, { id }).toPromise();
    expect(methods).toEqual(['GET']);
    expect(refused.data).toBeUndefined();
    expect((refused.error?.response as Response | undefined)?.status).toBe(403);
    expect(refused.error?.graphQLErrors[0]?.extensions.code).toBe('CSRF_PREVENTION');

    expect((await urql.readJob(submitter.client, id))?.id).toBe(id);

    const withHeader = new Client({
      url: endpoint(g),
      fetch: recordingFetch,
      fetchOptions: { headers: { 'x-graphql-yoga-csrf': '1' } },
      exchanges: [fetchExchange],
    });
    const allowed = await withHeader.query(ReadAiEditJobDocument, { id }).toPromise();
    expect(methods).toEqual(['GET', 'GET']);
    expect(allowed.error).toBeUndefined();
    expect(allowed.data?.aiEditJob?.id).toBe(id);
  });
});

// Node 22 and browsers have a global WebSocket; on Node 20 graphql-ws refuses to start without `ws` passed in.
it.runIf(typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined')(
  'needs webSocketImpl on Node 20 (the pitfall the recipes name)',
  () => {
    expect(() => urql.createUrqlClient({ url: 'http://127.0.0.1:9/graphql' })).toThrow(
      /WebSocket implementation missing/,
    );
    expect(() => apollo.createApolloClient({ url: 'http://127.0.0.1:9/graphql' })).toThrow(
      /WebSocket implementation missing/,
    );
  },
);

describe('AUTH_MODE=apikey', () => {
  const env = { AUTH_MODE: 'apikey', GATEWAY_API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}` };

  it('runs the first edit with the key as Authorization and as graphql-ws connectionParams', async () => {
    const g = await gateway(env);
    const url = endpoint(g);
    const aliceJob = await runFirstEdit(
      g,
      apollo,
      apollo.createApolloClient({ url, token: KEYS.alice, webSocketImpl: WebSocket }),
    );
    await runFirstEdit(g, urql, urql.createUrqlClient({ url, subscriptions: 'sse', token: KEYS.alice }));
    await runFirstEdit(
      g,
      urql,
      urql.createUrqlClient({ url, subscriptions: 'ws', token: KEYS.alice, webSocketImpl: WebSocket }),
    );

    // The key is what names the caller: bob does not see alice's job, and no key is refused.
    const bob = apollo.createApolloClient({ url, token: KEYS.bob, webSocketImpl: WebSocket });
    cleanups.push(bob.dispose);
    expect(await apollo.readJob(bob.client, aliceJob)).toBeNull();
    const anonymous = urql.createUrqlClient({ url, webSocketImpl: WebSocket });
    cleanups.push(anonymous.dispose);
    await expect(urql.submitEdit(anonymous.client, firstEdit(g))).rejects.toMatchObject({
      graphQLErrors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })],
    });
    const wrongKey = apollo.createApolloClient({ url, token: 'not-a-key-at-all', webSocketImpl: WebSocket });
    cleanups.push(wrongKey.dispose);
    // At once, not after graphql-ws's default five reconnects: the recipe does not retry a 4403.
    const refusedAt = Date.now();
    await expect(apollo.watchJob(wrongKey.client, aliceJob)).rejects.toThrow(/4403/);
    expect(Date.now() - refusedAt).toBeLessThan(5_000);
  });
});
