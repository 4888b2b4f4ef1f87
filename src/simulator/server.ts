import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Logger, pino } from 'pino';
import { ControlSpecError, type FailSpec, FailureInjector, type HangSpec, type Injection } from './control.js';
import { renderSample, SAMPLES, type SampleImage } from './images.js';
import { FixedWindowRateLimiter } from './rate-limit.js';
import { claidTimestamp, currentStatus, OutputStore, runTask, type SimTask } from './tasks.js';
import { type ValidationIssue, validateAiEditRequest } from './validation.js';

// A Claid-compatible AI Edit upstream on a real socket: what the gateway talks to without an API key, and what
// tests use to make the upstream slow, failing, rate limited or silent.

export interface SimulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The Bearer token accepted; default 'simulator-key'. */
  apiKey?: string;
  /** Time per status step ACCEPTED -> WAITING -> PROCESSING -> DONE; default 1500. */
  stepMs?: number;
  /** Enforced with 429 when set; default false (headers still sent, computed against 4/s and 120/min). */
  rateLimit?: { perSecond: number; perMinute: number } | false;
  logger?: Logger;
}

export interface SimulatorControl {
  /** Make the next `times` (default 1) matching requests fail; endpoint defaults to 'any'. */
  fail(spec: FailSpec): void;
  /** Accept the next `times` (default 1) matching requests and never answer them. */
  hang(spec?: HangSpec): void;
  setStepMs(ms: number): void;
  /** Clears injected failures, stats and rate-limit counts. */
  reset(): void;
}

export interface SimulatorStats {
  submits: number;
  reads: number;
  readsByTask: Map<number, number>;
}

export interface Simulator {
  /** e.g. http://127.0.0.1:43123 (no trailing slash). */
  url: string;
  apiKey: string;
  /** URL of a served sample input image: 'living-room.jpg' (default), 'portrait.jpg', 'square.png'; the extension may be left off. */
  sampleUrl(name?: string): string;
  control: SimulatorControl;
  /** Requests that reached the submit and status endpoints, including failed and injected ones. */
  stats: SimulatorStats;
  /** Closes the server and every socket, hanging ones included. */
  close(): Promise<void>;
}

export type { FailSpec, HangSpec, InjectedBody, InjectionEndpoint } from './control.js';
export { SAMPLES } from './images.js';

export const DEFAULT_SIMULATOR_API_KEY = 'simulator-key';

/** error_code values the simulator uses (Claid documents only 2001, for rate limiting). */
export const SIMULATOR_ERROR_CODES = {
  auth: '1001',
  validation: '1002',
  notFound: '1003',
  payloadTooLarge: '1004',
  rateLimited: '2001',
  internal: '5000',
} as const;

const MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_RATE = { perSecond: 4, perMinute: 120 };

type Json = Record<string, unknown>;

const errorDetails = (code: string, type: string, message: string, details: Json = {}): Json => ({
  error_code: code,
  error_type: type,
  error_message: message,
  error_details: details,
});

function injectedError(status: number): Json {
  if (status === 429)
    return errorDetails(SIMULATOR_ERROR_CODES.rateLimited, 'general', 'Too Many Requests. Rate limit exceeded.');
  const type =
    status === 401 || status === 403 ? 'auth' : status === 402 ? 'billing' : status === 422 ? 'validation' : 'general';
  const message =
    status === 402 ? 'No API calls left.' : `${STATUS_CODES[status] ?? 'Error'} (injected by the simulator)`;
  return errorDetails(String(status), type, message);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

const sendNotFound = (res: ServerResponse): void => sendJson(res, 404, { detail: 'Not Found' });

function sendInjected(res: ServerResponse, injection: Extract<Injection, { kind: 'fail' }>): void {
  const { status, body } = injection;
  let text = '';
  let type: string | undefined = 'application/json';
  switch (body) {
    case 'json':
      text = JSON.stringify(injectedError(status));
      break;
    case 'detail':
      text = JSON.stringify({ detail: injectedError(status) });
      break;
    case 'validation':
      text = JSON.stringify({ detail: [{ loc: ['body'], msg: 'injected validation failure', type: 'value_error' }] });
      break;
    case 'html': {
      const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
      text = `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center><hr><center>nginx</center></body></html>\n`;
      type = 'text/html; charset=utf-8';
      break;
    }
    case 'empty':
      type = undefined;
      break;
  }
  if (type) res.setHeader('Content-Type', type);
  if (status === 429) {
    res.setHeader('RateLimit-Remaining', '-1');
    res.setHeader('RateLimit-Reset', '1');
  }
  // Headers given in the spec win (setHeader is case-insensitive), except the body's length.
  for (const [name, value] of Object.entries(injection.headers)) res.setHeader(name, value);
  res.setHeader('Content-Length', String(Buffer.byteLength(text)));
  res.writeHead(status);
  res.end(text);
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function validationFailure(issues: ValidationIssue[]): Json {
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.loc.slice(1).join('.') || 'body'}: ${i.msg}`)
    .join('; ');
  return errorDetails(SIMULATOR_ERROR_CODES.validation, 'validation', `Request validation failed: ${summary}`, {
    errors: issues,
  });
}

function urlFor(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function checkStepMs(ms: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
    throw new RangeError('stepMs must be a non-negative number');
  return ms;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const apiKey = options.apiKey ?? DEFAULT_SIMULATOR_API_KEY;
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? pino({ level: 'silent' });
  let stepMs = checkStepMs(options.stepMs ?? 1500);
  const rate = options.rateLimit || DEFAULT_RATE;
  const limiter = new FixedWindowRateLimiter(rate.perSecond, rate.perMinute, Boolean(options.rateLimit));
  const injector = new FailureInjector();
  const outputs = new OutputStore();
  const tasks = new Map<number, SimTask>();
  const samples = new Map<string, Promise<Buffer>>();
  const stats: SimulatorStats = { submits: 0, reads: 0, readsByTask: new Map() };
  const sockets = new Set<Socket>();
  const shutdown = new AbortController();
  const expectedAuth = Buffer.from(apiKey);
  let nextId = 1;
  let baseUrl = '';

  const control: SimulatorControl = {
    fail: (spec) => injector.fail(spec),
    hang: (spec) => injector.hang(spec),
    setStepMs: (ms) => {
      stepMs = checkStepMs(ms);
    },
    reset: () => {
      injector.clear();
      limiter.reset();
      stats.submits = 0;
      stats.reads = 0;
      stats.readsByTask.clear();
    },
  };

  function authorized(req: IncomingMessage): 'ok' | 'missing' | 'invalid' {
    const header = req.headers.authorization;
    if (!header) return 'missing';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
    if (!match) return 'invalid';
    const given = Buffer.from(match[1]!);
    return given.length === expectedAuth.length && timingSafeEqual(given, expectedAuth) ? 'ok' : 'invalid';
  }

  /** Auth and rate limit for an API call; answers and returns false when the request must stop here. */
  function admit(req: IncomingMessage, res: ServerResponse): boolean {
    const auth = authorized(req);
    if (auth !== 'ok') {
      sendJson(
        res,
        401,
        errorDetails(
          SIMULATOR_ERROR_CODES.auth,
          'auth',
          auth === 'missing'
            ? 'Authorization is required: send "Authorization: Bearer <API key>".'
            : 'Invalid API key.',
        ),
        { 'WWW-Authenticate': 'Bearer' },
      );
      return false;
    }
    const decision = limiter.take();
    for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
    if (!decision.allowed) {
      sendJson(res, 429, {
        detail: errorDetails(SIMULATOR_ERROR_CODES.rateLimited, 'general', 'Too Many Requests. Rate limit exceeded.'),
      });
      return false;
    }
    return true;
  }

  /** Applies an injected failure or hang; true when the request was taken over by it. */
  function inject(endpoint: 'submit' | 'read', res: ServerResponse): boolean {
    const injection = injector.take(endpoint);
    if (!injection) return false;
    if (injection.kind === 'hang') {
      logger.debug({ endpoint }, 'simulator: hanging request');
      return true;
    }
    sendInjected(res, injection);
    return true;
  }

  async function handleSubmit(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.submits++;
    if (inject('submit', res) || !admit(req, res)) return;
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (raw === 'too-large') {
      res.setHeader('Connection', 'close');
      sendJson(
        res,
        413,
        errorDetails(
          SIMULATOR_ERROR_CODES.payloadTooLarge,
          'validation',
          `Request body is larger than ${MAX_BODY_BYTES} bytes.`,
        ),
      );
      return;
    }
    let body: unknown;
    if (raw.length === 0) {
      sendJson(res, 422, validationFailure([{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }]));
      return;
    }
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      const msg = `Invalid JSON: ${err instanceof Error ? err.message : String(err)}`;
      sendJson(res, 422, validationFailure([{ loc: ['body'], msg, type: 'value_error.jsondecode' }]));
      return;
    }
    const outcome = validateAiEditRequest(body);
    if (!outcome.ok) {
      sendJson(res, 422, validationFailure(outcome.issues));
      return;
    }
    const task: SimTask = {
      id: nextId++,
      createdAt: new Date(),
      request: body,
      params: outcome.value,
      generation: 'pending',
      failure: undefined,
      result: undefined,
      reported: 'ACCEPTED',
    };
    tasks.set(task.id, task);
    void runTask(task, { baseUrl, outputs, signal: shutdown.signal, logger });
    sendJson(res, 200, {
      data: {
        id: task.id,
        status: 'ACCEPTED',
        result_url: `${baseUrl}/v1/image/ai-edit/${task.id}`,
        created_at: claidTimestamp(task.createdAt),
        request: task.request,
      },
    });
  }

  function handleRead(req: IncomingMessage, res: ServerResponse, rawId: string): void {
    stats.reads++;
    const isInteger = /^[+-]?\d+$/.test(rawId);
    const id = isInteger ? Number(rawId) : NaN;
    if (isInteger) stats.readsByTask.set(id, (stats.readsByTask.get(id) ?? 0) + 1);
    if (inject('read', res) || !admit(req, res)) return;
    if (!isInteger) {
      sendJson(res, 422, {
        detail: [{ loc: ['path', 'ai_edit_id'], msg: 'value is not a valid integer', type: 'type_error.integer' }],
      });
      return;
    }
    const task = tasks.get(id);
    if (!task) {
      sendJson(
        res,
        404,
        errorDetails(SIMULATOR_ERROR_CODES.notFound, 'general', `AI edit task ${rawId} was not found.`),
      );
      return;
    }
    const status = currentStatus(task, stepMs);
    const data: Json = {
      id: task.id,
      status,
      created_at: claidTimestamp(task.createdAt),
      request: task.request,
      errors:
        status === 'ERROR' && task.failure
          ? [{ error: task.failure.message, created_at: claidTimestamp(task.failure.at) }]
          : [],
    };
    // Before DONE the result is null; a failed task has none at all.
    if (status === 'DONE') data['result'] = task.result;
    else if (status !== 'ERROR') data['result'] = null;
    sendJson(res, 200, { data });
  }

  function sendFile(req: IncomingMessage, res: ServerResponse, body: Buffer, mime: string): void {
    res.writeHead(200, {
      'Content-Type': mime,
      'Content-Length': String(body.length),
      'Cache-Control': 'private, max-age=86400',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async function handleSample(req: IncomingMessage, res: ServerResponse, file: string): Promise<void> {
    const sample = SAMPLES.find((s) => s.file === file);
    if (!sample) return sendNotFound(res);
    let pending = samples.get(sample.file);
    if (!pending) {
      pending = renderSample(sample);
      samples.set(sample.file, pending);
    }
    sendFile(req, res, await pending, sample.mime);
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (authorized(req) !== 'ok') {
      sendJson(
        res,
        401,
        errorDetails(SIMULATOR_ERROR_CODES.auth, 'auth', 'The control endpoint needs the simulator API key.'),
      );
      return;
    }
    const raw = await readBody(req, MAX_BODY_BYTES);
    let spec: Json;
    try {
      const parsed: unknown = raw === 'too-large' ? undefined : JSON.parse(raw.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new ControlSpecError('body must be a JSON object');
      spec = parsed as Json;
    } catch (err) {
      sendJson(
        res,
        400,
        errorDetails(SIMULATOR_ERROR_CODES.validation, 'validation', `Bad control request: ${(err as Error).message}`),
      );
      return;
    }
    try {
      switch (spec['action']) {
        case 'fail':
          control.fail(spec as unknown as FailSpec);
          break;
        case 'hang':
          control.hang(spec as HangSpec);
          break;
        case 'reset':
          control.reset();
          break;
        case 'setStepMs':
          control.setStepMs((spec['ms'] ?? spec['stepMs']) as number);
          break;
        default:
          throw new ControlSpecError('action must be one of fail, hang, reset, setStepMs');
      }
    } catch (err) {
      if (!(err instanceof ControlSpecError || err instanceof RangeError)) throw err;
      sendJson(
        res,
        400,
        errorDetails(SIMULATOR_ERROR_CODES.validation, 'validation', `Bad control request: ${err.message}`),
      );
      return;
    }
    sendJson(res, 200, { ok: true });
  }

  function handleStats(req: IncomingMessage, res: ServerResponse): void {
    if (authorized(req) !== 'ok') {
      sendJson(
        res,
        401,
        errorDetails(SIMULATOR_ERROR_CODES.auth, 'auth', 'The control endpoint needs the simulator API key.'),
      );
      return;
    }
    sendJson(res, 200, {
      submits: stats.submits,
      reads: stats.reads,
      readsByTask: Object.fromEntries(stats.readsByTask),
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://simulator').pathname;
    } catch {
      return sendNotFound(res);
    }
    const methodNotAllowed = (): void => sendJson(res, 405, { detail: 'Method Not Allowed' });

    if (pathname === '/v1/image/ai-edit') return method === 'POST' ? handleSubmit(req, res) : methodNotAllowed();
    const read = /^\/v1\/image\/ai-edit\/([^/]+)$/.exec(pathname);
    if (read) return method === 'GET' ? handleRead(req, res, safeDecode(read[1]!)) : methodNotAllowed();

    const isGet = method === 'GET' || method === 'HEAD';
    const output = /^\/outputs\/(\d+)\/([^/]+)$/.exec(pathname);
    if (output && isGet) {
      const file = outputs.get(output[1]!, output[2]!);
      return file ? sendFile(req, res, file.body, file.mime) : sendNotFound(res);
    }
    const sample = /^\/samples\/([^/]+)$/.exec(pathname);
    if (sample && isGet) return handleSample(req, res, sample[1]!);
    if (pathname === '/__control' && method === 'POST') return handleControl(req, res);
    if (pathname === '/__control/stats' && method === 'GET') return handleStats(req, res);
    return sendNotFound(res);
  }

  const server = createServer((req, res) => {
    const started = Date.now();
    const requestId = randomUUID();
    res.setHeader('x-request-id', requestId);
    for (const [name, value] of Object.entries(limiter.peek())) res.setHeader(name, value);
    res.on('finish', () => {
      logger.debug(
        { method: req.method, url: req.url, status: res.statusCode, requestId, ms: Date.now() - started },
        'simulator request',
      );
    });
    route(req, res).catch((err: unknown) => {
      logger.error({ err, requestId }, 'simulator request failed');
      if (!res.headersSent)
        sendJson(res, 500, errorDetails(SIMULATOR_ERROR_CODES.internal, 'general', 'Internal simulator error.'));
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  baseUrl = urlFor(host, (server.address() as AddressInfo).port);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      shutdown.abort();
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };

  const sampleUrl = (name?: string): string => {
    const wanted = name ?? SAMPLES[0]!.file;
    const sample: SampleImage | undefined = SAMPLES.find(
      (s) => s.file === wanted || s.file.replace(/\.[^.]+$/, '') === wanted,
    );
    if (!sample)
      throw new Error(`Unknown simulator sample '${wanted}'; available: ${SAMPLES.map((s) => s.file).join(', ')}`);
    return `${baseUrl}/samples/${sample.file}`;
  };

  return { url: baseUrl, apiKey, sampleUrl, control, stats, close };
}
