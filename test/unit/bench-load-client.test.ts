import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closedLoop } from '../../bench/lib/http.js';

// The benchmarks' load generator (bench/lib/raw-http-client.ts under closedLoop) against a real node:http server: it
// must count every wrong answer as a failure, whatever its framing, or a benchmark could time a broken server.

const RIGHT = JSON.stringify({ data: { aiEditJob: { id: 'a', status: 'DONE' } } });
const validate = (text: string) => {
  if (JSON.parse(text).data?.aiEditJob?.id !== 'a') throw new Error(`wrong answer: ${text}`);
};

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(answer: (req: IncomingMessage, res: ServerResponse, n: number, body: string) => void) {
  let n = 0;
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => answer(req, res, n++, body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/graphql`;
}

const load = (url: string, chunked = false) =>
  closedLoop({ url, body: '{"query":"{ a }"}', validate, concurrency: 4, durationMs: 300, warmupMs: 50, chunked });

describe('closedLoop on raw sockets', () => {
  it('sends the body with its length and counts byte-equal answers, split across writes or chunked', async () => {
    const seen: { body: string; length: string | undefined; te: string | undefined }[] = [];
    const url = await serve((req, res, n, body) => {
      seen.push({ body, length: req.headers['content-length'], te: req.headers['transfer-encoding'] });
      if (n % 3 === 0) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(RIGHT) });
        res.end(RIGHT);
      } else if (n % 3 === 1) {
        // Head and body in separate packets, the body itself in two.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(RIGHT) });
        res.flushHeaders();
        res.write(RIGHT.slice(0, 5));
        setTimeout(() => res.end(RIGHT.slice(5)), 1);
      } else {
        // No length: node:http answers chunked.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(RIGHT.slice(0, 7));
        res.end(RIGHT.slice(7));
      }
    });
    const result = await load(url);
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(10);
    expect(seen[0]).toEqual({ body: '{"query":"{ a }"}', length: '17', te: undefined });
    const chunked = await load(url, true);
    expect(chunked.failed).toBe(0);
    expect(seen.at(-1)).toEqual({ body: '{"query":"{ a }"}', length: undefined, te: 'chunked' });
  });

  it('counts a wrong body, a non-200 and a dropped connection as failures', async () => {
    for (const wrong of [
      (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{}}'),
      (res: ServerResponse) => res.writeHead(500, { 'content-type': 'application/json' }).end(RIGHT),
      (res: ServerResponse) => res.destroy(),
    ]) {
      const url = await serve((_req, res, n) => {
        if (n % 2 === 0) res.writeHead(200, { 'content-type': 'application/json' }).end(RIGHT);
        else wrong(res);
      });
      const result = await load(url);
      expect(result.ok).toBeGreaterThan(0);
      expect(result.failed).toBeGreaterThan(0);
      expect(result.firstFailure).toBeDefined();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
    }
  });

  it('tells a body that differs from the first valid one by a byte', async () => {
    const url = await serve((_req, res, n) => {
      const text = n === 200 ? RIGHT.replace('DONE', 'DONF') : RIGHT;
      res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    });
    // The changed body is still valid to `validate` (only the id is checked), so it passes, and it is looked at.
    const result = await closedLoop({
      url,
      body: '{}',
      validate: (text) => {
        validate(text);
        if (text.includes('DONF')) throw new Error('a changed body');
      },
      concurrency: 1,
      durationMs: 300,
      warmupMs: 0,
    });
    expect(result.failed).toBe(1);
    expect(result.firstFailure).toBe('a changed body');
  });
});
