import type { Job } from '../../src/domain/job.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';
import type { ReadPlanner } from '../../src/services/jobs/duration-history.js';
import { createJobPubSub, type JobPubSub } from '../../src/services/jobs/job-events.js';
import { JobPoller } from '../../src/services/jobs/job-poller.js';
import { JobRefresher } from '../../src/services/jobs/job-refresher.js';
import type { JobStore } from '../../src/services/store/job-store.js';
import { createJobStore } from '../../src/services/store/job-store-factory.js';
import { type ClaidClient, createClaidClient } from '../../src/services/upstream/claid-client.js';
import { RateBudget } from '../../src/services/upstream/rate-budget.js';
import {
  claidResult,
  DEFAULT_TASK_REQUEST,
  type RecordedRequest,
  rateLimitedReply,
  rateLimitHeaders,
  startTestUpstream,
  type TestUpstream,
  taskPath,
  type UpstreamHandler,
  type UpstreamReply,
} from './test-upstream.js';

// The real pieces wired the way app.ts wires them: test upstream <- Claid client (with the budget) <- refresher
// <- poller, over a real SQLite store.

export interface PollerRigOptions {
  pollIntervalMs: number;
  backgroundPollIntervalMs: number;
  /** Default: a fresh in-memory store. */
  databaseUrl?: string;
  /** Default { perSecond: 50, perMinute: 3000 }; false: no budget at all. */
  budget?: { perSecond: number; perMinute: number } | false;
  /** Client retries of a failed read; default 0 so that upstream counts equal poller reads. */
  retries?: number;
  concurrency?: number;
  up?: TestUpstream;
  /** POLL_STRATEGY=learned: the schedule from job durations; default none, the fixed cadence. */
  readPlanner?: ReadPlanner;
}

export interface PollerRig {
  up: TestUpstream;
  store: JobStore;
  claid: ClaidClient;
  budget: RateBudget | undefined;
  events: JobPubSub;
  refresher: JobRefresher;
  poller: JobPoller;
  logger: Logger;
  close(): Promise<void>;
}

export async function startPollerRig(options: PollerRigOptions): Promise<PollerRig> {
  const logger = createLogger('silent');
  const up = options.up ?? (await startTestUpstream());
  const store = await createJobStore(options.databaseUrl ?? 'sqlite::memory:');
  const budget =
    options.budget === false
      ? undefined
      : new RateBudget({ ...(options.budget ?? { perSecond: 50, perMinute: 3000 }), logger });
  const claid = createClaidClient({
    baseUrl: up.url,
    apiKey: 'test-key',
    timeoutMs: 5_000,
    retries: options.retries ?? 0,
    logger,
    ...(budget ? { budget } : {}),
  });
  const events = createJobPubSub();
  const refresher = new JobRefresher({ store, claid, events, logger });
  const poller = new JobPoller({
    store,
    refresher,
    ...(budget ? { budget } : {}),
    logger,
    pollIntervalMs: options.pollIntervalMs,
    backgroundPollIntervalMs: options.backgroundPollIntervalMs,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.readPlanner ? { readPlanner: options.readPlanner } : {}),
  });
  return {
    up,
    store,
    claid,
    budget,
    events,
    refresher,
    poller,
    logger,
    async close() {
      await poller.stop();
      budget?.close();
      await claid.close();
      await store.close();
      await up.close();
    },
  };
}

/**
 * Stores a submitted, unfinished job for upstream task `upstreamId`, last read `agoMs` ago. Its request is the one
 * the fake Claid's setTask() tasks echo, as a real upstream would echo the job's own.
 */
export function insertJob(store: JobStore, upstreamId: number, agoMs = 60_000): Promise<Job> {
  const at = new Date(Date.now() - agoMs);
  return store.insert({
    owner: 'alice',
    request: { input: DEFAULT_TASK_REQUEST.input, options: { prompt: DEFAULT_TASK_REQUEST.options.prompt } },
    requestHash: `hash-${upstreamId}`,
    idempotencyKey: null,
    upstream: { upstreamId, status: 'ACCEPTED', createdAt: at, errors: [], result: null },
    at,
  });
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const TASK_READ = /^\/v1\/image\/ai-edit\/(\d+)$/;

/** The task id a request reads, or null for anything else. */
export function taskIdOf(request: RecordedRequest): number | null {
  const match = request.method === 'GET' ? TASK_READ.exec(request.path) : null;
  return match ? Number(match[1]) : null;
}

/** Status reads of exactly this task (taskPath(1) is a prefix of taskPath(10), so requestsTo() will not do). */
export function readsOf(up: TestUpstream, taskId: number): RecordedRequest[] {
  return up.requests.filter((r) => r.method === 'GET' && r.path === taskPath(taskId));
}

/** A reply that makes the fake Claid report `taskId` as DONE from now on. */
export function finishTask(up: TestUpstream, taskId: number): void {
  up.setTask(taskId, { status: 'DONE', result: claidResult() });
}

/**
 * A handler like the fake Claid, but each task answers PROCESSING on its first successful read and DONE from the
 * `doneAfter`-th one on.
 */
export function progressingTasks(
  up: TestUpstream,
  doneAfter = 2,
): { handler: UpstreamHandler; okReads: Map<number, number> } {
  const okReads = new Map<number, number>();
  const handler: UpstreamHandler = (request) => {
    const id = taskIdOf(request);
    if (id !== null && up.tasks.has(id)) {
      const n = (okReads.get(id) ?? 0) + 1;
      okReads.set(id, n);
      if (n >= doneAfter) up.setTask(id, { status: 'DONE', result: claidResult() });
      else up.setTask(id, { status: 'PROCESSING' });
    }
    return up.fakeClaid(request);
  };
  return { handler, okReads };
}

/**
 * Wraps a handler in a sliding-window rate limit: a request is refused with Claid's documented 429 when more than
 * `limit` requests (refused ones included) arrived in the last `windowMs`. Every answer carries RateLimit headers,
 * as Claid's do.
 */
export function slidingWindowLimit(
  inner: UpstreamHandler,
  limit: number,
  windowMs = 1000,
): { handler: UpstreamHandler; refusedAt: number[]; maxInWindowAccepted: () => number } {
  const arrivals: number[] = [];
  const accepted: number[] = [];
  const refusedAt: number[] = [];
  let maxAccepted = 0;
  const handler: UpstreamHandler = async (request) => {
    const now = request.at;
    while (arrivals.length > 0 && arrivals[0]! <= now - windowMs) arrivals.shift();
    while (accepted.length > 0 && accepted[0]! <= now - windowMs) accepted.shift();
    arrivals.push(now);
    const reset = Math.max(1, Math.ceil((arrivals[0]! + windowMs - now) / 1000));
    if (arrivals.length > limit) {
      refusedAt.push(now);
      return rateLimitedReply(reset);
    }
    accepted.push(now);
    maxAccepted = Math.max(maxAccepted, accepted.length);
    const reply: UpstreamReply = await inner(request);
    return {
      ...reply,
      headers: { ...rateLimitHeaders(limit - arrivals.length, reset, `${limit};w=1`), ...reply.headers },
    };
  };
  return { handler, refusedAt, maxInWindowAccepted: () => maxAccepted };
}
