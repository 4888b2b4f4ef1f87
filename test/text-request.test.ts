import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requestText, TextRequestTimeout } from '../src/services/upstream/text-request.js';
import { closedPort } from './support/test-upstream.js';

// The Claid client's HTTP call (src/services/upstream/text-request.ts) against a real server on loopback.

let server: Server;
let origin: string;
let agent: Agent;
let seen: string[];
let answer: (req: IncomingMessage, res: ServerResponse) => void;

beforeEach(async () => {
  seen = [];
  answer = (_req, res) => res.end('ok');
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  agent = new Agent({ connections: 1 });
});

afterEach(async () => {
  await agent.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const get = (path: string, timeoutMs = 2000) =>
  requestText(agent, { origin, path, method: 'GET', headers: { accept: 'text/plain' }, timeoutMs });

describe('requestText', () => {
  it('reads an answer sent in many chunks whole, with its status and headers, and sends the body', async () => {
    answer = (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      req.on('end', () => {
        res.writeHead(201, { 'x-request-id': 'r-1', 'content-type': 'text/plain' });
        for (let i = 0; i < 50; i++) res.write(`${i}:${body}|`);
        res.end('é');
      });
    };
    const answered = await requestText(agent, {
      origin,
      path: '/echo',
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'añb',
      timeoutMs: 2000,
    });
    expect(answered.statusCode).toBe(201);
    expect(answered.headers['x-request-id']).toBe('r-1');
    expect(answered.text).toBe(`${Array.from({ length: 50 }, (_, i) => `${i}:añb|`).join('')}é`);
  });

  it('fails a call still waiting for a connection at its timeout, and never sends it', async () => {
    // One connection: the first call holds it for 600 ms, the second waits behind it past its own 200 ms.
    answer = (_req, res) => setTimeout(() => res.end('late'), 600);
    const first = get('/first');
    const started = Date.now();
    const second = get('/second', 200);
    await expect(second).rejects.toBeInstanceOf(TextRequestTimeout);
    expect(Date.now() - started).toBeLessThan(500);
    expect((await first).text).toBe('late');
    // The connection is free now: the timed-out call is aborted as it starts, before a byte of it is written.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen).toEqual(['/first']);
  });

  it('fails a call whose answer stalls halfway at its timeout', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('half');
    };
    const heads: number[] = [];
    const call = requestText(agent, {
      origin,
      path: '/stall',
      method: 'GET',
      headers: {},
      timeoutMs: 200,
      onHead: (status) => heads.push(status),
    });
    await expect(call).rejects.toBeInstanceOf(TextRequestTimeout);
    // The head had arrived: whoever asked knows the status of the answer that then failed.
    expect(heads).toEqual([200]);
  });

  it("rejects with undici's own error when nothing listens", async () => {
    const port = await closedPort();
    const call = requestText(agent, {
      origin: `http://127.0.0.1:${port}`,
      path: '/',
      method: 'GET',
      headers: {},
      timeoutMs: 2000,
    });
    await expect(call).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
