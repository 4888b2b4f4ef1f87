import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/build-gateway.js';
import { startTestGateway } from '../support/gateway.js';
import { describeInBrowser, launchChromium, offlineContext, screenshotOnFailure } from './support/browser.js';

// A page of another origin (another loopback port) calling the gateway as a frontend would: fetch() of /graphql and
// a graphql-ws WebSocket. Refused by default; allowed when CORS_ORIGINS names that origin.

/** The page's probe: what its fetch and its WebSocket got from the gateway at `gateway`. */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>another origin</title></head><body><script>
window.probe = async (gateway) => {
  const result = {};
  try {
    const res = await fetch(gateway + '/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    result.fetch = { status: res.status, body: await res.json() };
  } catch (error) {
    result.fetch = { error: String(error) };
  }
  result.webSocket = await new Promise((resolve) => {
    const socket = new WebSocket(gateway.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
    socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init' }));
    socket.onmessage = (event) => {
      resolve({ message: JSON.parse(event.data).type });
      socket.close();
    };
    socket.onclose = (event) => resolve({ closed: event.code });
  });
  return result;
};
</script></body></html>`;

interface ProbeResult {
  fetch: { status?: number; body?: { data?: unknown }; error?: string };
  webSocket: { message?: string; closed?: number };
}

describeInBrowser('a page of another origin in Chromium', () => {
  let pageServer: Server;
  let pageOrigin: string;
  let browser: Browser;
  const gateways: Gateway[] = [];

  beforeAll(async () => {
    pageServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all(gateways.map((g) => g.stop()));
    await new Promise((resolve) => pageServer?.close(resolve));
  });

  async function probe(gateway: Gateway, name: string) {
    const { context, refused } = await offlineContext(browser);
    const page = await context.newPage();
    let result: ProbeResult | undefined;
    await screenshotOnFailure(page, name, async () => {
      await page.goto(pageOrigin);
      result = await page.evaluate(
        (url) => (window as unknown as { probe(u: string): Promise<ProbeResult> }).probe(url),
        gateway.url,
      );
    });
    await context.close();
    expect(refused).toEqual([]);
    return result!;
  }

  // The same page and probe as below; only CORS_ORIGINS differs.
  it('is refused by default: fetch fails its preflight, the WebSocket never opens', async () => {
    const gateway = await startTestGateway();
    gateways.push(gateway);
    const result = await probe(gateway, 'cross-origin-refused');
    expect(result.fetch).toEqual({ error: expect.stringMatching(/Failed to fetch/) });
    expect(result.webSocket).toEqual({ closed: 1006 });
  });

  it('is allowed with CORS_ORIGINS set to its origin: fetch answers and graphql-ws acknowledges', async () => {
    const gateway = await startTestGateway({ env: { CORS_ORIGINS: pageOrigin } });
    gateways.push(gateway);
    const result = await probe(gateway, 'cross-origin-allowed');
    expect(result.fetch).toEqual({ status: 200, body: { data: { __typename: 'Query' } } });
    expect(result.webSocket).toEqual({ message: 'connection_ack' });
  });
});
