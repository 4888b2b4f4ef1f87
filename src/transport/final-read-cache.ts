import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import { isFinalStatus, type Job } from '../domain/job.js';
import type { ReadTracker } from '../schema/context.js';
import type { Authenticator, Caller } from '../services/auth/authenticator.js';
import { PREFLIGHT_HEADERS } from './security/use-http-guards.js';

// Answers repeated reads of final jobs without running Yoga. A final job (DONE, ERROR, CANCELLED) never changes, and
// no field of a job reads the clock (expiresAt is finishedAt + 24 h), so the bytes Yoga wrote for such a read are the
// answer to the identical request from the same caller for as long as the entry lives. Whether an answer may be kept
// is decided by its execution (read-cache-plugin.ts), never by looking at the request.

/**
 * Request headers that can change an answer besides the caller: content negotiation and parsing (Yoga), the CSRF
 * preflight headers and the Origin/Host check (src/transport/security/use-http-guards.ts), CORS (Yoga's useCORS).
 */
export const KEYED_HEADERS: readonly string[] = [
  'host',
  'accept',
  'accept-encoding',
  'content-type',
  'origin',
  ...PREFLIGHT_HEADERS,
  'access-control-request-method',
  'access-control-request-headers',
];

/** Response headers that belong to one connection or one moment, not to the answer (Node writes its own Date). */
const NOT_REPLAYED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

export interface CachedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What the cache holds for one request: the response, and the exact request body it answers (see `keyOf`). */
interface Entry {
  response: CachedResponse;
  /** The response's headers as writeHead's flat list, built once. */
  headerList: readonly string[];
  requestBody: Buffer;
}

/** How a request is served: its own response headers (the request id), and what to do when the cache cannot answer. */
export interface ServeOptions {
  /** Headers of this response alone, as name, value, name, value…: written before the stored ones on a hit. */
  ownHeaders: readonly string[];
  /** Runs the request through Yoga; a tracker when the answer may be kept, and the body once it has been read. */
  pass: PassToYoga;
  /** Whatever goes wrong on the way, a rejection of `pass` included; the caller logs it and drops the connection. */
  fail: (error: unknown) => void;
}

export interface ReadCacheStats {
  /** Requests answered from the cache (Yoga not run). */
  hits: number;
  /** Requests the cache looked up and handed to Yoga. */
  misses: number;
  /** Answers kept. */
  stores: number;
  readonly entries: number;
  readonly bytes: number;
}

export interface FinalReadCacheOptions {
  /** Bound on the bytes of all entries (bodies, headers and keys); 0 turns the cache off. */
  maxBytes: number;
  ttlMs: number;
  /** MAX_BODY_BYTES: a larger (or unannounced) body is never buffered here. */
  maxBodyBytes: number;
  /** The authenticator the context uses, so that the key's owner is the caller Yoga would see. */
  authenticator: Authenticator;
  graphqlEndpoint: string;
}

/** Runs the request through Yoga; a tracker when the answer may be kept, and the body once it has been read. */
export type PassToYoga = (tracker?: FinalReadTracker, body?: Buffer) => Promise<unknown>;

/** One request's verdict: pending until its execution says the answer is made of final jobs alone. */
export class FinalReadTracker implements ReadTracker {
  #verdict: 'fresh' | 'executing' | 'cacheable' | 'never' = 'fresh';

  constructor(
    /**
     * The caller the key was made for, authenticated here; the context takes it rather than authenticating the same
     * request again. An execution under another owner is never kept.
     */
    readonly caller: Caller,
    private readonly keep: (response: CachedResponse) => void,
  ) {}

  jobsRead(jobs: readonly (Job | null)[]): void {
    if (jobs.some((job) => job === null || !isFinalStatus(job.status))) this.#verdict = 'never';
  }

  uncacheable(): void {
    this.#verdict = 'never';
  }

  /** The execution starts; a second one in the same request (never expected) spoils it. */
  executionStarted(owner: unknown): void {
    this.#verdict = this.#verdict === 'fresh' && owner === this.caller.name ? 'executing' : 'never';
  }

  /** The execution ended with an answer made of final jobs only. */
  executionCacheable(): void {
    if (this.#verdict === 'executing') this.#verdict = 'cacheable';
  }

  get cacheable(): boolean {
    return this.#verdict === 'cacheable';
  }

  /** Keeps the response Yoga is about to send, once. */
  keepResponse(response: CachedResponse): void {
    if (this.#verdict !== 'cacheable') return;
    this.#verdict = 'never';
    this.keep(response);
  }
}

export class FinalReadCache {
  readonly enabled: boolean;
  readonly stats: ReadCacheStats;
  readonly #entries: LRUCache<string, Entry> | undefined;

  constructor(private readonly options: FinalReadCacheOptions) {
    this.enabled = options.maxBytes > 0;
    const entries = this.enabled
      ? new LRUCache<string, Entry>({
          maxSize: options.maxBytes,
          sizeCalculation: (entry, key) => sizeOf(entry, key),
          ttl: options.ttlMs,
          updateAgeOnGet: false,
        })
      : undefined;
    this.#entries = entries;
    this.stats = {
      hits: 0,
      misses: 0,
      stores: 0,
      get entries() {
        return entries?.size ?? 0;
      },
      get bytes() {
        return entries?.calculatedSize ?? 0;
      },
    };
  }

  /**
   * Whether the cache looks at this request at all: GET or POST on the GraphQL endpoint, a POST only with a
   * Content-Length within MAX_BODY_BYTES. Anything else goes to Yoga with its body unread.
   */
  accepts(req: IncomingMessage): boolean {
    if (!this.#entries) return false;
    const { method } = req;
    if (method !== 'GET' && method !== 'POST') return false;
    const url = req.url ?? '';
    const query = url.indexOf('?');
    if ((query === -1 ? url : url.slice(0, query)) !== this.options.graphqlEndpoint) return false;
    const announced = req.headers['content-length'];
    if (req.headers['transfer-encoding'] !== undefined) return false;
    if (method === 'GET') return announced === undefined;
    if (announced === undefined || !/^\d{1,10}$/.test(announced)) return false;
    const length = Number(announced);
    return length > 0 && length <= this.options.maxBodyBytes;
  }

  /**
   * Answers a request `accepts` took from the cache, or passes it to Yoga with a tracker that may keep the answer.
   * A hit runs without a promise where the authenticator can answer at once (every mode but jwt): the body's 'end'
   * event writes the stored bytes.
   */
  serve(req: IncomingMessage, res: ServerResponse, how: ServeOptions): void {
    const { authenticator } = this.options;
    const { authorization } = req.headers;
    if (authenticator.authenticateSync) {
      let caller: Caller;
      try {
        caller = authenticator.authenticateSync(authorization);
      } catch {
        // Yoga authenticates again and gives the caller the usual 401/403.
        passOn(res, how);
        return;
      }
      this.#serveFor(caller, req, res, how);
      return;
    }
    authenticator.authenticate(authorization).then(
      (caller) => this.#serveFor(caller, req, res, how),
      () => passOn(res, how),
    );
  }

  #serveFor(caller: Caller, req: IncomingMessage, res: ServerResponse, how: ServeOptions): void {
    if (req.method !== 'POST') {
      this.#answerOrFail(caller, req, res, EMPTY, how);
      return;
    }
    readBodyThen(req, this.options.maxBodyBytes, (body) => {
      if (body) this.#answerOrFail(caller, req, res, body, how);
      else res.destroy();
    });
  }

  /** `#answer`, whose errors (thrown in an event handler or a promise's callback) go to `fail`. */
  #answerOrFail(caller: Caller, req: IncomingMessage, res: ServerResponse, body: Buffer, how: ServeOptions): void {
    try {
      this.#answer(caller, req, res, body, how);
    } catch (error) {
      how.fail(error);
    }
  }

  #answer(caller: Caller, req: IncomingMessage, res: ServerResponse, body: Buffer, how: ServeOptions): void {
    const entries = this.#entries!;
    const key = keyOf(caller.name, req, body);
    const hit = entries.get(key);
    if (hit?.requestBody.equals(body)) {
      this.stats.hits++;
      res.writeHead(hit.response.status, [...how.ownHeaders, ...hit.headerList]).end(hit.response.body);
      return;
    }
    this.stats.misses++;
    // @whatwg-node/server takes a body already read from `req.body` (a Buffer is a Uint8Array body).
    if (body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = body;
    const tracker = new FinalReadTracker(caller, (response) => {
      const entry: Entry = { response, headerList: headerListOf(response.headers), requestBody: copyOf(body) };
      // A request with the same key and another body (see keyOf) loses its entry to this one.
      if (entries.set(key, entry).has(key)) this.stats.stores++;
    });
    passOn(res, how, tracker, body);
  }
}

/** Hands the request to Yoga with its own headers set, as every response of the gateway carries them. */
function passOn(res: ServerResponse, how: ServeOptions, tracker?: FinalReadTracker, body?: Buffer): void {
  try {
    for (let i = 0; i < how.ownHeaders.length; i += 2) res.setHeader(how.ownHeaders[i]!, how.ownHeaders[i + 1]!);
    how.pass(tracker, body).catch(how.fail);
  } catch (error) {
    how.fail(error);
  }
}

const EMPTY = Buffer.alloc(0);

/** A body of its own (a read chunk may be a view into a larger buffer). */
const copyOf = (body: Buffer): Buffer => (body.length === 0 ? EMPTY : Buffer.from(body));

function headerListOf(headers: Record<string, string>): string[] {
  const list: string[] = [];
  for (const name in headers) list.push(name, headers[name]!);
  return list;
}

/**
 * Bytes of the body's end that go into the key: a read's variables (the job's id) are there. V8 hashes a string key
 * at about a nanosecond a character, as dear as SHA-256, so the key holds a fingerprint of the body and a hit compares
 * the whole body with the entry's (`Buffer.equals`, a memcmp).
 */
const BODY_TAIL_BYTES = 64;

/**
 * Up to this length the key is itself; a longer one (a long URL or headers) is its SHA-256. V8 hashes a string longer
 * than 16,383 characters by its length alone, which would chain every such key of one length in one slot of the map.
 */
const DIRECT_KEY_MAX_CHARS = 4_096;

/** A part of the key that cannot run into the next: its length first, or `-` when absent. */
function part(value: string | string[] | undefined): string {
  if (value === undefined) return '-';
  if (typeof value === 'string') return `${value.length}:${value}`;
  const text = JSON.stringify(value);
  return `a${text.length}:${text}`;
}

/**
 * The key: caller, method, URL, every header that can change the answer, and a fingerprint of the body (its length,
 * its last bytes in latin1, one character a byte). Each part is length-prefixed, so none can be mistaken for another.
 * Two bodies with one key (the same length and end) are told apart by the entry's own body: the later one replaces
 * the other's entry, so such a pair costs hits, never a wrong answer.
 */
export function keyOf(owner: string, req: IncomingMessage, body: Buffer): string {
  const { headers } = req;
  let key = part(owner) + part(req.method) + part(req.url);
  for (const name of KEYED_HEADERS) key += part(headers[name]);
  const tailFrom = Math.max(0, body.length - BODY_TAIL_BYTES);
  key += `${body.length}:${body.toString('latin1', tailFrom)}`;
  // `#` starts no direct key (those start with the owner's length).
  return key.length <= DIRECT_KEY_MAX_CHARS ? key : `#${createHash('sha256').update(key, 'latin1').digest('base64')}`;
}

/** An estimate (not measured) of an entry's objects, Buffer header and LRU slot, so that small entries still count honestly. */
const ENTRY_OVERHEAD_BYTES = 512;

function sizeOf(entry: Entry, key: string): number {
  // Plus what the entry costs besides its bytes: the objects, the Buffers and the cache's own bookkeeping.
  const { response } = entry;
  let size = key.length + response.body.length + entry.requestBody.length + ENTRY_OVERHEAD_BYTES;
  // The headers twice: the record and writeHead's list.
  for (const name in response.headers) size += 2 * (name.length + response.headers[name]!.length);
  return size;
}

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

/** Response headers worth replaying: everything but what belongs to one connection; the length of the kept body. */
export function replayableHeaders(headers: Headers, bodyLength: number): Record<string, string> {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!NOT_REPLAYED.has(name)) kept[name] = value;
  });
  kept['content-length'] = String(bodyLength);
  return kept;
}
