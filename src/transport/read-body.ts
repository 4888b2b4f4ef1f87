import type { IncomingMessage } from 'node:http';

// A request body read into memory within a limit, for the read cache and the direct JSON lane.

const EMPTY = Buffer.alloc(0);

/** The whole body, or undefined when the client went away or sent more than the limit. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => readBodyThen(req, limit, resolve));
}

/** readBody without a promise: `done` is called once, with the body or undefined. */
export function readBodyThen(req: IncomingMessage, limit: number, done: (body: Buffer | undefined) => void): void {
  let first: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  let settled = false;
  const settle = (body: Buffer | undefined) => {
    if (settled) return;
    settled = true;
    done(body);
  };
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      settle(undefined);
      req.destroy();
      return;
    }
    // One chunk is the usual body: no array for it.
    if (first === undefined) first = chunk;
    else (chunks ??= [first]).push(chunk);
  });
  req.once('end', () => settle(chunks ? Buffer.concat(chunks, size) : (first ?? EMPTY)));
  req.once('error', () => settle(undefined));
  req.once('close', () => settle(undefined));
}
