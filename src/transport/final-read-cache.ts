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
  readonly #entries: LRUCache<string, CachedResponse> | undefined;

  constructor(private readonly options: FinalReadCacheOptions) {
    this.enabled = options.maxBytes > 0;
    const entries = this.enabled
      ? new LRUCache<string, CachedResponse>({
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

  /** Answers a request `accepts` took from the cache, or passes it to Yoga with a tracker that may keep the answer. */
  async serve(req: IncomingMessage, res: ServerResponse, pass: PassToYoga): Promise<void> {
    const entries = this.#entries!;
    let caller: Caller;
    try {
      caller = await this.options.authenticator.authenticate(req.headers.authorization);
    } catch {
      // Yoga authenticates again and gives the caller the usual 401/403.
      await pass();
      return;
    }
    const body = req.method === 'POST' ? await readBody(req, this.options.maxBodyBytes) : EMPTY;
    if (!body) {
      res.destroy();
      return;
    }
    const key = keyOf(caller.name, req, body);
    const hit = entries.get(key);
    if (hit) {
      this.stats.hits++;
      res.writeHead(hit.status, hit.headers).end(hit.body);
      return;
    }
    this.stats.misses++;
    // @whatwg-node/server takes a body already read from `req.body` (a Buffer is a Uint8Array body).
    if (body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = body;
    await pass(
      new FinalReadTracker(caller, (response) => {
        if (entries.set(key, response).has(key)) this.stats.stores++;
      }),
      body,
    );
  }
}

const EMPTY = Buffer.alloc(0);

/** The key: caller, method, URL, every header that can change the answer, and the exact body bytes. */
function keyOf(owner: string, req: IncomingMessage, body: Buffer): string {
  const parts: unknown[] = [owner, req.method, req.url];
  for (const name of KEYED_HEADERS) parts.push(req.headers[name] ?? null);
  // The JSON array ends where it ends, so the body that follows cannot be mistaken for part of it.
  return createHash('sha256').update(JSON.stringify(parts)).update(body).digest('base64');
}

/** An estimate (not measured) of an entry's objects, Buffer header and LRU slot, so that small entries still count honestly. */
const ENTRY_OVERHEAD_BYTES = 512;

function sizeOf(entry: CachedResponse, key: string): number {
  // Plus what the entry costs besides its bytes: the objects, the Buffer and the cache's own bookkeeping.
  let size = key.length + entry.body.length + ENTRY_OVERHEAD_BYTES;
  for (const name in entry.headers) size += name.length + entry.headers[name]!.length;
  return size;
}

/** The whole body, or undefined when the client went away or sent more than the limit. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.once('error', () => resolve(undefined));
    req.once('close', () => {
      if (!ended) resolve(undefined);
    });
  });
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
