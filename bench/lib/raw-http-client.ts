import { connect, type Socket } from 'node:net';

// One keep-alive HTTP/1.1 connection that sends the same prebuilt request bytes again and again, one request in
// flight at a time (as a browser does; no pipelining), and hands back each response's status and body. It is the load
// generator's client: a response costs it a few buffer scans instead of undici's parser, streams and promises, so
// that a server answering in tens of microseconds is not measured against the client's ceiling.

export interface RawResponse {
  status: number;
  body: Buffer;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/** The bytes of a POST of `body` to `url`, with a Content-Length or (chunked) as one chunk of a chunked body. */
export function postRequestBytes(url: URL, headers: Record<string, string>, body: string, chunked: boolean): Buffer {
  const payload = Buffer.from(body);
  const lines = [`POST ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, 'connection: keep-alive'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push(chunked ? 'transfer-encoding: chunked' : `content-length: ${payload.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  if (!chunked) return Buffer.concat([head, payload]);
  return Buffer.concat([
    head,
    Buffer.from(`${payload.length.toString(16)}\r\n`),
    payload,
    Buffer.from('\r\n0\r\n\r\n'),
  ]);
}

/** What the head of a response says about its body. */
interface Head {
  status: number;
  /** Bytes of the head, blank line included. */
  length: number;
  contentLength: number | undefined;
  chunked: boolean;
  close: boolean;
}

const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CHUNKED = /\r\ntransfer-encoding:[^\r]*chunked/i;
const CLOSE = /\r\nconnection:[^\r]*close/i;

function parseHead(buf: Buffer, end: number): Head {
  const text = buf.toString('latin1', 0, end);
  if (!text.startsWith('HTTP/1.')) throw new Error(`not HTTP: ${text.slice(0, 80)}`);
  const length = CONTENT_LENGTH.exec(text)?.[1];
  return {
    status: Number(text.slice(9, 12)),
    length: end + HEAD_END.length,
    contentLength: length === undefined ? undefined : Number(length),
    chunked: CHUNKED.test(text),
    close: text.startsWith('HTTP/1.0') || CLOSE.test(text),
  };
}

/**
 * The body of a chunked message starting at `from`, and where the message ends; undefined while incomplete.
 * Trailers are not expected (none of the servers sends them) and fail the parse.
 */
function dechunk(buf: Buffer, from: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const lineEnd = buf.indexOf(CRLF, at);
    if (lineEnd === -1) return undefined;
    const size = Number.parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (!Number.isFinite(size)) throw new Error('bad chunk size');
    const dataStart = lineEnd + 2;
    if (size === 0) {
      if (buf.length < dataStart + 2) return undefined;
      if (buf[dataStart] !== 13 || buf[dataStart + 1] !== 10) throw new Error('trailers are not supported');
      return { body: parts.length === 1 ? parts[0]! : Buffer.concat(parts), end: dataStart + 2 };
    }
    if (buf.length < dataStart + size + 2) return undefined;
    parts.push(buf.subarray(dataStart, dataStart + size));
    at = dataStart + size + 2;
  }
}

/**
 * A connection sending `request` each time `send` is called; `onResponse` gets each answer, `onError` a broken
 * connection or response (the connection is then reopened for the next `send`).
 */
export class RawConnection {
  #socket: Socket | undefined;
  #buf: Buffer | undefined;
  #head: Head | undefined;
  #waiting = false;

  constructor(
    private readonly port: number,
    private readonly host: string,
    private readonly request: Buffer,
    private readonly onResponse: (response: RawResponse) => void,
    private readonly onError: (error: Error) => void,
  ) {}

  send(): void {
    this.#waiting = true;
    this.#buf = undefined;
    this.#head = undefined;
    this.#open().write(this.request);
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  #open(): Socket {
    if (this.#socket) return this.#socket;
    const socket = connect({ port: this.port, host: this.host, noDelay: true });
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    const broken = (error?: Error) => {
      if (this.#socket === socket) this.#socket = undefined;
      socket.destroy();
      if (this.#waiting) this.#fail(error ?? new Error('connection closed before the response ended'));
    };
    socket.on('error', broken);
    socket.on('close', () => broken());
    this.#socket = socket;
    return socket;
  }

  #fail(error: Error): void {
    this.#waiting = false;
    this.close();
    this.onError(error);
  }

  #data(chunk: Buffer): void {
    if (!this.#waiting) {
      this.#fail(new Error('bytes from the server with no request in flight'));
      return;
    }
    const buf = this.#buf ? Buffer.concat([this.#buf, chunk]) : chunk;
    this.#buf = buf;
    try {
      if (!this.#head) {
        const end = buf.indexOf(HEAD_END);
        if (end === -1) return;
        this.#head = parseHead(buf, end);
      }
      const head = this.#head;
      let body: Buffer;
      let end: number;
      if (head.chunked) {
        const message = dechunk(buf, head.length);
        if (!message) return;
        ({ body, end } = message);
      } else {
        // Without a length (and not chunked) only a 1xx/204/304 would be complete; none is expected here.
        if (head.contentLength === undefined) throw new Error(`HTTP ${head.status} without a Content-Length`);
        end = head.length + head.contentLength;
        if (buf.length < end) return;
        body = buf.subarray(head.length, end);
      }
      if (buf.length > end) throw new Error('more bytes than one response');
      this.#waiting = false;
      if (head.close) this.close();
      this.onResponse({ status: head.status, body });
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
