import { readFileSync } from 'node:fs';
import { get, type IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { GRAPHIQL_ASSETS_PATH, GRAPHIQL_VERSION } from '../src/transport/graphiql/graphiql-assets.js';
import { GRAPHIQL_PREFLIGHT_HEADER } from '../src/transport/graphiql/render-graphiql.js';
import { gql, startTestGateway } from './support/gateway.js';

// GraphiQL's page and assets over real HTTP, and the CSRF line its subscriptions cross: an SSE GET passes with the
// preflight header GraphiQL sends and is still refused without it. (The browser suite runs the page itself.)

/** A GET through node:http, which neither adds accept-encoding nor undoes content-encoding. */
function rawGet(url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res
        .on('data', (chunk: Buffer) => chunks.push(chunk))
        .on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
        .on('error', reject);
    }).on('error', reject);
  });
}

const packageDir = dirname(createRequire(import.meta.url).resolve('@graphql-yoga/graphiql/package.json'));

describe('GraphiQL served by the gateway', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(() => gateway?.stop());

  it('renders a page that loads everything from the gateway itself', async () => {
    const res = await fetch(`${gateway.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    // No CDN, no remote favicon: nothing on the page points off the gateway.
    expect(html).not.toMatch(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    expect(html).toContain(`src="/graphiql/${GRAPHIQL_VERSION}/graphiql.js"`);
    expect(html).toContain(`href="/graphiql/${GRAPHIQL_VERSION}/graphiql.css"`);
    expect(html).toContain('<title>AI Edit GraphQL gateway</title>');
    expect(html).toContain(`"additionalHeaders":{"${GRAPHIQL_PREFLIGHT_HEADER.name}":"graphiql"}`);
  });

  it.each([
    ['graphiql.js', 'dist/yoga-graphiql.umd.js', 'text/javascript'],
    ['graphiql.css', 'dist/graphiql.css', 'text/css'],
    ['editor.worker.js', 'dist/monacoeditorwork/editor.worker.bundle.js', 'text/javascript'],
    ['json.worker.js', 'dist/monacoeditorwork/json.worker.bundle.js', 'text/javascript'],
    ['graphql.worker.js', 'dist/monacoeditorwork/graphql.worker..bundle.js', 'text/javascript'],
  ])('serves %s from the installed package, compressed, cacheable for a year', async (name, file, type) => {
    const expected = readFileSync(join(packageDir, file));
    const url = `${gateway.url}${GRAPHIQL_ASSETS_PATH}/${name}`;
    const gzipped = await rawGet(url, { 'accept-encoding': 'gzip, deflate, br' });
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers['content-type']).toContain(type);
    expect(gzipped.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzipped.body).equals(expected)).toBe(true);

    const plain = await rawGet(url, {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(expected)).toBe(true);
  });

  it('answers 404 for an asset it does not have, and 405 for a method other than GET or HEAD', async () => {
    expect((await fetch(`${gateway.url}${GRAPHIQL_ASSETS_PATH}/nope.js`)).status).toBe(404);
    expect((await fetch(`${gateway.url}/graphiql/0.0.1/graphiql.js`)).status).toBe(404);
    expect((await fetch(`${gateway.url}${GRAPHIQL_ASSETS_PATH}/graphiql.css`, { method: 'POST' })).status).toBe(405);
    const head = await fetch(`${gateway.url}${GRAPHIQL_ASSETS_PATH}/graphiql.css`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  describe('a subscription as GraphiQL sends it (graphql-sse GET)', () => {
    const subscribe = async (headers: Record<string, string>) => {
      const submitted = await gql<any>(
        gateway,
        'mutation($input: SubmitAiEditInput!) { submitAiEdit(input: $input) { job { id } } }',
        { input: { input: gateway.internals.simulator!.sampleUrl(), options: { prompt: 'add a duck' } } },
      );
      const id = submitted.data.submitAiEdit.job.id as string;
      const query = `subscription { aiEditJobUpdated(id: "${id}") { status } }`;
      const abort = new AbortController();
      const res = await fetch(`${gateway.url}/graphql?query=${encodeURIComponent(query)}`, {
        headers: { accept: 'text/event-stream', ...headers },
        signal: abort.signal,
      });
      const first = res.body ? new TextDecoder().decode((await res.body.getReader().read()).value) : '';
      abort.abort();
      return { res, first };
    };

    it('streams with the preflight header GraphiQL adds', async () => {
      const { res, first } = await subscribe({ [GRAPHIQL_PREFLIGHT_HEADER.name]: GRAPHIQL_PREFLIGHT_HEADER.value });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(first).toMatch(/aiEditJobUpdated/);
    });

    it('is still refused with 403 CSRF_PREVENTION without it', async () => {
      const { res, first } = await subscribe({});
      expect(res.status).toBe(403);
      expect(JSON.parse(first).errors[0].extensions.code).toBe('CSRF_PREVENTION');
    });
  });
});
