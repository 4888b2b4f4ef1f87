import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pino } from 'pino';
import { createGate } from './access.js';
import { type ApiContext, countRateLimited, handleRead, handleSubmit } from './api-routes.js';
import { FailureInjector } from './control.js';
import { handleControl, handleStats } from './control-routes.js';
import { createSampleRoute, findSample, handleOutput } from './file-routes.js';
import { errorDetails, SIMULATOR_ERROR_CODES, safeDecode, sendJson, sendNotFound } from './http-replies.js';
import { FixedWindowRateLimiter } from './rate-limit.js';
import { SqliteTaskStore } from './sqlite-task-store.js';
import { MemoryTaskStore, type TaskStore } from './task-store.js';
import { TaskTimeline } from './task-timeline.js';
import { runTask, type SimTask } from './tasks.js';
import type { Simulator, SimulatorControl, SimulatorOptions, SimulatorStats } from './types.js';
import { WebhookNotifier } from './webhooks.js';

// A Claid-compatible AI Edit upstream on a real socket: what the gateway talks to without an API key, and what
// tests use to make the upstream slow, failing, rate limited or silent.

export type { FailSpec, HangSpec, InjectedBody, InjectionEndpoint } from './control.js';
export { SIMULATOR_ERROR_CODES } from './http-replies.js';
export { SAMPLES } from './images.js';
export type { TaskPlan, TaskPlanner } from './task-timeline.js';
export type { Simulator, SimulatorControl, SimulatorOptions, SimulatorStats, WebhookTarget } from './types.js';

export const DEFAULT_SIMULATOR_API_KEY = 'simulator-key';

const DEFAULT_RATE = { perSecond: 4, perMinute: 120 };

function urlFor(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
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
  const generations = options.generationLimit
    ? new FixedWindowRateLimiter(options.generationLimit.perSecond, options.generationLimit.perMinute, true)
    : undefined;
  const injector = new FailureInjector();
  const store: TaskStore = options.dataDir ? new SqliteTaskStore(options.dataDir) : new MemoryTaskStore();
  const stats: SimulatorStats = { submits: 0, reads: 0, readsByTask: new Map(), webhooks: 0, rateLimited: new Map() };
  const sockets = new Set<Socket>();
  const shutdown = new AbortController();
  const runs = new Set<Promise<void>>();
  const gate = createGate({
    apiKey,
    limiter,
    injector,
    logger,
    onRateLimited: (key) => countRateLimited(stats, key),
  });
  const timeline = new TaskTimeline(() => stepMs, options.taskPlanner);
  const serveSample = createSampleRoute();
  let baseUrl = '';
  const notifier = new WebhookNotifier(
    { store, timeline, logger, signal: shutdown.signal, onSend: () => stats.webhooks++ },
    options.webhook,
  );

  const control: SimulatorControl = {
    fail: (spec) => injector.fail(spec),
    hang: (spec) => injector.hang(spec),
    setStepMs: (ms) => {
      stepMs = checkStepMs(ms);
    },
    setTaskPlanner: (planner) => timeline.setPlanner(planner),
    reset: () => {
      injector.clear();
      limiter.reset();
      generations?.reset();
      stats.submits = 0;
      stats.reads = 0;
      stats.readsByTask.clear();
      stats.webhooks = 0;
      stats.rateLimited.clear();
    },
    setWebhook: (target) => notifier.setTarget(target),
  };

  const run = (task: SimTask): void => {
    const running = runTask(task, { baseUrl, store, signal: shutdown.signal, logger }).finally(() => {
      runs.delete(running);
      if (!shutdown.signal.aborted) timeline.runEnded(task.id);
      notifier.check(task.id);
    });
    runs.add(running);
    notifier.check(task.id);
  };
  const api: ApiContext = { gate, generations, store, stats, baseUrl: () => baseUrl, timeline, run };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://simulator').pathname;
    } catch {
      return sendNotFound(res);
    }
    const methodNotAllowed = (): void => sendJson(res, 405, { detail: 'Method Not Allowed' });

    if (pathname === '/v1/image/ai-edit') return method === 'POST' ? handleSubmit(api, req, res) : methodNotAllowed();
    const read = /^\/v1\/image\/ai-edit\/([^/]+)$/.exec(pathname);
    if (read) return method === 'GET' ? handleRead(api, req, res, safeDecode(read[1]!)) : methodNotAllowed();

    const isGet = method === 'GET' || method === 'HEAD';
    const output = /^\/outputs\/(\d+)\/([^/]+)$/.exec(pathname);
    if (output && isGet) return handleOutput(store, req, res, output[1]!, output[2]!);
    const sample = /^\/samples\/([^/]+)$/.exec(pathname);
    if (sample && isGet) return serveSample(req, res, sample[1]!);
    if (pathname === '/__control' && method === 'POST') return handleControl(gate, control, req, res);
    if (pathname === '/__control/stats' && method === 'GET') return handleStats(gate, stats, req, res);
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

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    store.close();
    throw error;
  }
  baseUrl = urlFor(host, (server.address() as AddressInfo).port);

  // Tasks a previous run left unfinished run again; their status walk goes on from their own created_at.
  const resumed = store.unfinished();
  for (const task of resumed) run(task);
  if (resumed.length > 0) logger.info({ tasks: resumed.length }, 'simulator: resuming unfinished tasks');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shutdown.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
      // A run stopped mid-way records nothing; wait for the ones finishing a render before closing the file.
      await Promise.allSettled([...runs]);
      store.close();
    })();
    return closing;
  };

  const sampleUrl = (name?: string): string => `${baseUrl}/samples/${findSample(name).file}`;

  const finishedAt = (taskId: number): number | undefined => {
    const task = store.get(taskId);
    return task && timeline.finishedAt(task);
  };

  return { url: baseUrl, apiKey, sampleUrl, control, stats, finishedAt, close };
}
