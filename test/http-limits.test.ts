import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { startTestGateway } from './support/gateway.js';

// Slow and many clients on raw sockets: a header trickler and a body trickler are cut near their limits (Node's
// defaults let them stay 88 s and over 130 s), connections past MAX_CONNECTIONS are closed as they arrive, and a
// WebSocket outlives the request timeout that cuts a slow upload.

const LIMITS = {
  HTTP_HEADERS_TIMEOUT_MS: '500',
  HTTP_REQUEST_TIMEOUT_MS: '1000',
  HTTP_KEEP_ALIVE_TIMEOUT_MS: '300',
};

let gateway: Gateway | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await gateway?.stop();
  gateway = undefined;
});

async function open(env: Record<string, string> = {}): Promise<Gateway> {
  gateway = await startTestGateway({ env: { ...LIMITS, ...env } });
  return gateway;
}

async function rawSocket(g: Gateway): Promise<Socket> {
  const { port } = new URL(g.url);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Writes `chunk` every 100 ms until the server closes the socket; resolves to the milliseconds that took. */
async function trickleUntilClosed(socket: Socket, chunk: string, giveUpMs: number): Promise<number> {
  const started = Date.now();
  const trickle = setInterval(() => {
    if (!socket.destroyed) socket.write(chunk);
  }, 100);
  socket.resume();
  const closed = once(socket, 'close').then(() => Date.now() - started);
  const gaveUp = new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), giveUpMs));
  try {
    return await Promise.race([closed, gaveUp]);
  } finally {
    clearInterval(trickle);
  }
}

describe('slow clients', () => {
  it('cuts a client that trickles its headers once HTTP_HEADERS_TIMEOUT_MS has passed', async () => {
    const socket = await rawSocket(await open());
    socket.write('POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const ms = await trickleUntilClosed(socket, 'x-slow: 1\r\n', 5_000);
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(ms).toBeLessThan(2_500);
  });

  it('cuts a client that trickles its body once HTTP_REQUEST_TIMEOUT_MS has passed', async () => {
    const socket = await rawSocket(await open());
    socket.write(
      'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{',
    );
    const ms = await trickleUntilClosed(socket, ' ', 6_000);
    // Past the headers limit (the headers were complete), cut by the whole request's.
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(3_000);
  });

  it('closes an idle keep-alive connection after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    const socket = await rawSocket(await open());
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const closed = once(socket, 'close');
    socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const started = Date.now();
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('MAX_CONNECTIONS', () => {
  it('closes connections past the cap as they arrive and takes new ones once there is room', async () => {
    // Long limits here, so that only the cap closes anything.
    const g = await open({ MAX_CONNECTIONS: '3', HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '20000' });
    const held = [await rawSocket(g), await rawSocket(g), await rawSocket(g)];
    const extra = await rawSocket(g);
    const extraClosed = await Promise.race([
      once(extra, 'close').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2_000)),
    ]);
    expect(extraClosed).toBe(true);
    expect(held.every((s) => !s.destroyed)).toBe(true);

    held[0]!.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`${g.url}/health`);
    expect(res.status).toBe(200);
  });
});

describe('a graphql-ws connection', () => {
  it('stays open and answers past HTTP_REQUEST_TIMEOUT_MS', async () => {
    const g = await open();
    const ws = new WebSocket(`${g.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const messages: { type: string }[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data))));
    await once(ws, 'open');
    ws.send(JSON.stringify({ type: 'connection_init' }));
    await expect.poll(() => messages.map((m) => m.type)).toContain('connection_ack');

    await new Promise((r) => setTimeout(r, 2_500));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.send(JSON.stringify({ type: 'ping' }));
    await expect.poll(() => messages.map((m) => m.type)).toContain('pong');
    ws.close();
  });
});
