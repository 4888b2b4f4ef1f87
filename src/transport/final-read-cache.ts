import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import { isFinalStatus, type Job } from '../domain/job.js';
import { ttlClockResolution } from '../lib/ttl-clock.js';
import type { ReadTracker } from '../schema/context.js';
import type { Authenticator, Caller } from '../services/auth/authenticator.js';
import { keyOf } from './final-read-cache-key.js';
import { readBodyThen } from './read-body.js';

// Answers repeated reads of final jobs without running Yoga. A final job (DONE, ERROR, CANCELLED) never changes, and
// no field of a job reads the clock (expiresAt is finishedAt + 24 h), so the bytes Yoga wrote for such a read are the
// answer to the identical request from the same caller for as long as the entry lives. Whether an answer may be kept
// is decided by its execution (read-cache-plugin.ts), never by looking at the request.

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
          ttlResolution: ttlClockResolution(options.ttlMs),
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

/** Response headers worth replaying: everything but what belongs to one connection; the length of the kept body. */
export function replayableHeaders(headers: Headers, bodyLength: number): Record<string, string> {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!NOT_REPLAYED.has(name)) kept[name] = value;
  });
  kept['content-length'] = String(bodyLength);
  return kept;
}
