import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A real loopback HTTP server standing in for Claid in tests. It records every request and answers from a queue of
// scripted replies, then from a default handler. The default handler is a tiny Claid: submits create ACCEPTED tasks
// with increasing ids, reads return whatever a test set with setTask(). Tests script failures with enqueue():
//
//   const up = await startTestUpstream();
//   up.enqueue({ status: 503, body: claidErrorBody('down') }, { method: 'GET' });
//   up.setTask(1, { status: 'DONE', result: claidResult() });
//   ... up.requests ...
//   await up.close();

export interface RecordedRequest {
  /** 0-based position among all requests this upstream received. */
  index: number;
  method: string;
  /** Path and query as received, e.g. `/v1/image/ai-edit/3`. */
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  body: unknown;
  /** Date.now() when the request had fully arrived. */
  at: number;
}

export interface UpstreamReply {
  /** Default 200. */
  status?: number;
  /** Extra response headers; `null` drops a default one (`x-request-id`, `content-type`). */
  headers?: Record<string, string | number | readonly string[] | null>;
  /** A string is sent as is (text/plain unless a content-type is given); anything else as JSON; undefined: empty. */
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer; close() drops the connection. */
  hang?: boolean;
  /** Send the status line, headers and half the body, then stall. */
  hangBody?: boolean;
  /** Drop the connection without answering. */
  destroy?: boolean;
}

export type UpstreamHandler = (request: RecordedRequest) => UpstreamReply | Promise<UpstreamReply>;

/** Which requests a queued reply is for; omitted fields match anything. A string path matches as a prefix. */
export interface ReplyMatch {
  method?: string;
  path?: string | RegExp;
}

// Claid's wire format, as the fake answers it.
export interface ClaidImageJson {
  ext?: string;
  mps?: number;
  mime?: string;
  format?: string;
  width?: number;
  height?: number;
}
export interface ClaidOutputImageJson extends ClaidImageJson {
  tmp_url?: string;
  object_key?: string;
  object_bucket?: string;
  object_uri?: string;
  claid_storage_uri?: string;
}
export interface ClaidResultJson {
  input_object: ClaidImageJson;
  output_objects: ClaidOutputImageJson[];
}
export interface ClaidTaskErrorJson {
  error: string;
  created_at: string | number;
}
export interface ClaidTaskJson {
  id: number;
  status: string;
  created_at: string;
  request: unknown;
  result_url?: string;
  errors?: ClaidTaskErrorJson[];
  result?: ClaidResultJson | Record<string, never> | null;
}

export interface RateLimitRule {
  /** Requests allowed per window (fixed window). */
  limit: number;
  windowMs: number;
}

export interface TestUpstreamOptions {
  /** Listen on this port (default: a free one). */
  port?: number;
  /** When set, the fake Claid answers 401 to any other bearer token. */
  apiKey?: string;
  /** The id of the first task the fake Claid creates (default 1). */
  firstTaskId?: number;
}

export interface TestUpstream {
  /** e.g. `http://127.0.0.1:43123`, to use as the client's baseUrl. */
  readonly url: string;
  readonly port: number;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  /** Tasks the fake Claid knows, by id. */
  readonly tasks: ReadonlyMap<number, ClaidTaskJson>;
  /** Answer the next matching request with this reply (queued replies are used once, in order). */
  enqueue(reply: UpstreamReply | UpstreamHandler, match?: ReplyMatch): void;
  /** Answer everything not queued with this handler; null restores the fake Claid. */
  setDefault(handler: UpstreamHandler | null): void;
  /** The fake Claid itself, for default handlers that only sometimes differ from it. */
  fakeClaid: UpstreamHandler;
  /** Creates or updates a task the fake Claid reports on reads. */
  setTask(id: number, patch?: Partial<Omit<ClaidTaskJson, 'id'>>): ClaidTaskJson;
  /** Makes the fake Claid enforce a request rate (429 with Claid's documented body and headers), or stop doing so. */
  setRateLimit(rule: RateLimitRule | null): void;
  /** Recorded requests with this method and (optionally) path prefix. */
  requestsTo(method: string, pathPrefix?: string): RecordedRequest[];
  /** Resolves once at least `count` requests have arrived; rejects after timeoutMs. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Forgets requests, queued replies, tasks, rate limit and default handler. */
  reset(): void;
  /** Stops listening and drops every open connection, hanging ones included. */
  close(): Promise<void>;
}

export const SUBMIT_PATH = '/v1/image/ai-edit';
export const taskPath = (id: number): string => `${SUBMIT_PATH}/${id}`;

// ---- Builders for Claid-shaped answers ----

/** The request a task made with setTask() or claidTask() echoes unless told otherwise. */
export const DEFAULT_TASK_REQUEST = { input: 'https://picsum.photos/500', options: { prompt: 'add a duck' } } as const;

export function claidTask(overrides: Partial<ClaidTaskJson> & { id: number }): ClaidTaskJson {
  return {
    status: 'ACCEPTED',
    created_at: '2025-03-13T11:37:09.160554+00:00',
    request: structuredClone(DEFAULT_TASK_REQUEST),
    errors: [],
    result: null,
    ...overrides,
  };
}

/** The `{"data": ...}` envelope of every successful Claid answer. */
export const claidData = <T>(data: T): { data: T } => ({ data });

/** A DONE task's result with `outputs` output images (default 1). */
export function claidResult(outputs = 1, overrides: Partial<ClaidOutputImageJson> = {}): ClaidResultJson {
  return {
    input_object: { ext: 'jpeg', mps: 0.25, mime: 'image/jpeg', format: 'JPEG', width: 500, height: 500 },
    output_objects: Array.from({ length: outputs }, (_, i) => ({
      ext: 'png',
      mps: 1.048576,
      mime: 'image/png',
      format: 'PNG',
      width: 1024,
      height: 1024,
      tmp_url: `https://dl.claid.ai/test/output-${i}.png`,
      ...overrides,
    })),
  };
}

/** Flat HttpErrorDetails, Claid's most common error body. */
export function claidErrorBody(message: string, code = '1000', type = 'general') {
  return { error_code: code, error_type: type, error_message: message, error_details: {} };
}

/** HttpErrorDetails wrapped in `detail`, as in Claid's documented 429. */
export function claidDetailErrorBody(message: string, code = '2001', type = 'general') {
  return { detail: claidErrorBody(message, code, type) };
}

/** FastAPI's validation error body. */
export function fastApiValidationBody(items: Array<{ loc: Array<string | number>; msg: string; type: string }>) {
  return { detail: items };
}

/** Claid's rate-limit headers. */
export function rateLimitHeaders(remaining: number, resetSeconds: number, limit = '4, 120;w=60, 4;w=1') {
  return {
    'ratelimit-limit': limit,
    'ratelimit-remaining': String(remaining),
    'ratelimit-reset': String(resetSeconds),
  };
}

/** Claid's documented 429. */
export function rateLimitedReply(resetSeconds = 1): UpstreamReply {
  return {
    status: 429,
    headers: rateLimitHeaders(-1, resetSeconds),
    body: claidDetailErrorBody('Too Many Requests. Rate limit exceeded.'),
  };
}

/** A port nothing listens on (it was free a moment ago), for connection-refused tests. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---- The server ----

function matches(match: ReplyMatch | undefined, request: RecordedRequest): boolean {
  if (!match) return true;
  if (match.method && match.method.toUpperCase() !== request.method) return false;
  if (match.path === undefined) return true;
  return typeof match.path === 'string' ? request.path.startsWith(match.path) : match.path.test(request.path);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startTestUpstream(options: TestUpstreamOptions = {}): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const queue: Array<{ reply: UpstreamReply | UpstreamHandler; match: ReplyMatch | undefined }> = [];
  const tasks = new Map<number, ClaidTaskJson>();
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();
  let defaultHandler: UpstreamHandler | null = null;
  let nextTaskId = options.firstTaskId ?? 1;
  let rateLimit: RateLimitRule | null = null;
  let windowStart = 0;
  let windowCount = 0;

  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  function rateLimitCheck(): { headers: Record<string, string>; limited: boolean } | null {
    if (!rateLimit) return null;
    const now = Date.now();
    if (now - windowStart >= rateLimit.windowMs) {
      windowStart = now;
      windowCount = 0;
    }
    windowCount += 1;
    const reset = Math.max(1, Math.ceil((windowStart + rateLimit.windowMs - now) / 1000));
    const windowSeconds = Math.ceil(rateLimit.windowMs / 1000);
    return {
      headers: rateLimitHeaders(rateLimit.limit - windowCount, reset, `${rateLimit.limit};w=${windowSeconds}`),
      limited: windowCount > rateLimit.limit,
    };
  }

  const fakeClaid: UpstreamHandler = (request) => {
    const limit = rateLimitCheck();
    const withLimit = (reply: UpstreamReply): UpstreamReply =>
      limit ? { ...reply, headers: { ...limit.headers, ...reply.headers } } : reply;
    if (limit?.limited) return withLimit(rateLimitedReply(Number(limit.headers['ratelimit-reset'])));

    if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`) {
      return withLimit({ status: 401, body: claidErrorBody('Invalid API key.', '0001', 'auth') });
    }
    if (request.method === 'POST' && request.path === SUBMIT_PATH) {
      const body = request.body as { input?: unknown; options?: { prompt?: unknown } } | undefined;
      if (typeof body?.input !== 'string' || typeof body.options?.prompt !== 'string') {
        return withLimit({
          status: 422,
          body: claidErrorBody('Request body is invalid.', '3000', 'validation'),
        });
      }
      const id = nextTaskId++;
      const task = claidTask({ id, created_at: new Date().toISOString(), request: body });
      tasks.set(id, task);
      const { errors: _errors, result: _result, ...accepted } = task;
      return withLimit({ body: claidData({ ...accepted, result_url: `${up.url}${taskPath(id)}` }) });
    }
    const read = /^\/v1\/image\/ai-edit\/(\d+)$/.exec(request.path);
    if (request.method === 'GET' && read) {
      const task = tasks.get(Number(read[1]));
      if (!task) return withLimit({ status: 404, body: claidErrorBody('Web image not found.', '4040', 'general') });
      return withLimit({ body: claidData(task) });
    }
    return withLimit({ status: 404, body: { detail: 'Not Found' } });
  };

  async function send(res: ServerResponse, reply: UpstreamReply, index: number): Promise<void> {
    if (reply.delayMs) await delay(reply.delayMs);
    if (res.destroyed) return;
    if (reply.destroy) {
      res.socket?.destroy();
      return;
    }
    if (reply.hang) return;

    let payload = '';
    const headers: Record<string, string | number | readonly string[]> = { 'x-request-id': `test-req-${index}` };
    if (typeof reply.body === 'string') {
      payload = reply.body;
      headers['content-type'] = 'text/plain; charset=utf-8';
    } else if (reply.body !== undefined) {
      payload = JSON.stringify(reply.body);
      headers['content-type'] = 'application/json';
    }
    for (const [name, value] of Object.entries(reply.headers ?? {})) {
      if (value === null) delete headers[name.toLowerCase()];
      else headers[name.toLowerCase()] = value;
    }
    const bytes = Buffer.from(payload, 'utf8');
    headers['content-length'] = bytes.length;
    res.writeHead(reply.status ?? 200, headers as Record<string, string | number | string[]>);
    if (reply.hangBody) {
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
      return;
    }
    res.end(bytes);
  }

  const server = createServer((req, res) => {
    void (async () => {
      const rawBody = await readBody(req);
      let body: unknown;
      try {
        body = rawBody === '' ? undefined : JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
      const recorded: RecordedRequest = {
        index: requests.length,
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        rawBody,
        body,
        at: Date.now(),
      };
      requests.push(recorded);
      for (const wake of [...waiters]) wake();

      const queued = queue.findIndex((q) => matches(q.match, recorded));
      let reply: UpstreamReply;
      if (queued >= 0) {
        const [{ reply: scripted }] = queue.splice(queued, 1) as [(typeof queue)[number]];
        reply = typeof scripted === 'function' ? await scripted(recorded) : scripted;
      } else {
        reply = await (defaultHandler ?? fakeClaid)(recorded);
      }
      await send(res, reply, recorded.index);
    })().catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`test upstream handler failed: ${String(err)}`);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const up: TestUpstream = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    tasks,
    fakeClaid,
    enqueue(reply, match) {
      queue.push({ reply, match });
    },
    setDefault(handler) {
      defaultHandler = handler;
    },
    setTask(id, patch = {}) {
      const task = { ...(tasks.get(id) ?? claidTask({ id })), ...patch, id };
      tasks.set(id, task);
      if (id >= nextTaskId) nextTaskId = id + 1;
      return task;
    },
    setRateLimit(rule) {
      rateLimit = rule;
      windowStart = 0;
      windowCount = 0;
    },
    requestsTo(method, pathPrefix) {
      return requests.filter(
        (r) => r.method === method.toUpperCase() && (pathPrefix === undefined || r.path.startsWith(pathPrefix)),
      );
    },
    waitForRequests(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length < count) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve([...requests]);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`test upstream: expected ${count} requests, got ${requests.length} in ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
      tasks.clear();
      defaultHandler = null;
      nextTaskId = options.firstTaskId ?? 1;
      rateLimit = null;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
  return up;
}
