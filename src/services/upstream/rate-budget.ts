import { AsyncLocalStorage } from 'node:async_hooks';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { UpstreamError } from '../../domain/errors.js';
import type { Logger } from '../../lib/logger.js';
import { MinHeap } from '../../lib/min-heap.js';
import type { UpstreamBudget } from './claid-client.js';

// The account-wide upstream budget (claid-facts.md: ~4 requests/s and 120/min for everything, submits included).
//
// Every HTTP attempt the Claid client makes calls acquire() first, so one attempt costs exactly one token. Callers
// that want a place in the queue other than the default (the poller) do not acquire a token of their own, which
// would charge each read twice and still leave the client's retries unordered; they run the read inside
// withPriority(), and acquire() picks the priority up from that async context. Plain acquire('read') calls (a query
// refreshing a stale job for someone who is waiting) rank with watched jobs.

export type BudgetPriority = 'submit' | 'watched' | 'background';

export interface AcquireOptions {
  /** Default: 'submit' for a submit; for a read the surrounding withPriority() scope, else 'watched'. */
  priority?: BudgetPriority;
  /** Epoch ms the caller has been waiting since (within a class the smallest goes first); default: now. */
  since?: number;
  /** Gives up the place in the queue: acquire() rejects with an UpstreamError. */
  signal?: AbortSignal;
}

/** Lets a caller order the upstream calls that a piece of work makes, without acquiring tokens itself. */
export interface PriorityScope {
  withPriority<T>(options: AcquireOptions, fn: () => Promise<T>): Promise<T>;
}

/**
 * Builds the limiter for one window. The default is in-memory; a RateLimiterRedis with the same points, duration
 * and keyPrefix (ideally with a RateLimiterMemory as insuranceLimiter) makes several instances share one budget.
 */
export type LimiterFactory = (points: number, durationSec: number, keyPrefix: string) => RateLimiterAbstract;

/**
 * What several instances share beyond the limiter windows (services/redis-budget.ts): the spacing between grants
 * and a pause after a 429, so that one instance's 429 stops them all.
 */
export interface SharedBudgetGate {
  /** Takes the next shared grant slot: 0 when taken, else how long (ms) to wait before asking again. */
  reserve(spacingMs: number): Promise<number>;
  /** Pauses every instance's grants for `ms`. */
  pause(ms: number): Promise<void>;
}

export interface RateBudgetOptions {
  perSecond: number;
  perMinute: number;
  logger: Logger;
  limiterFactory?: LimiterFactory;
  /** Shared spacing and pause across instances; without one, both are this process's own. */
  shared?: SharedBudgetGate;
  /** The limiter key: one per upstream account. Default 'claid'. */
  key?: string;
  /** Up to this much random extra wait after a 429 or a spent quota. Default 100 ms. */
  jitterMs?: number;
}

export interface RateBudgetStats {
  granted: Record<BudgetPriority, number>;
  grantedByKind: { submit: number; read: number };
  queued: number;
  queuedByPriority: Record<BudgetPriority, number>;
  /** How much longer grants are paused (429, spent quota, or failure back-off); 0 when not paused. */
  pausedForMs: number;
  /** 429 answers observed. */
  rateLimited: number;
  /** 5xx or network failures in a row. */
  consecutiveFailures: number;
}

const PRIORITY_RANK: Record<BudgetPriority, number> = { submit: 0, watched: 1, background: 2 };
const FAILURE_BACKOFF_BASE_MS = 250;
const FAILURE_BACKOFF_MAX_MS = 15_000;
/** Wait before asking a limiter store again after it failed (e.g. Redis down and no insurance limiter). */
const STORE_ERROR_RETRY_MS = 1_000;

const priorityContext = new AsyncLocalStorage<AcquireOptions>();

interface Waiter {
  kind: 'submit' | 'read';
  priority: BudgetPriority;
  since: number;
  seq: number;
  settled: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
  cleanup: () => void;
}

const budgetError = (message: string): UpstreamError =>
  new UpstreamError('UPSTREAM_UNAVAILABLE', message, {
    httpStatus: null,
    errorCode: null,
    errorType: null,
    errorMessage: null,
    requestId: null,
  });

const defaultLimiterFactory: LimiterFactory = (points, duration, keyPrefix) =>
  new RateLimiterMemory({ points, duration, keyPrefix });

export class RateBudget implements UpstreamBudget, PriorityScope {
  private readonly perSecond: RateLimiterAbstract;
  private readonly perMinute: RateLimiterAbstract;
  private readonly key: string;
  private readonly jitterMs: number;
  /** Grants are spaced evenly, so that a sliding-window upstream never sees two windows' worth in one second. */
  private readonly spacingMs: number;
  private readonly logger: Logger;
  private readonly shared: SharedBudgetGate | undefined;

  private readonly queue = new MinHeap<Waiter>(
    (a, b) => (PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.since - b.since || a.seq - b.seq) < 0,
  );
  private readonly queuedByPriority: Record<BudgetPriority, number> = { submit: 0, watched: 0, background: 0 };
  private readonly granted: Record<BudgetPriority, number> = { submit: 0, watched: 0, background: 0 };
  private readonly grantedByKind = { submit: 0, read: 0 };
  private seq = 0;
  private pumping = false;
  private closed = false;
  private lastGrantAt = Number.NEGATIVE_INFINITY;
  private pausedUntil = 0;
  private rateLimited = 0;
  private consecutiveFailures = 0;
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;

  constructor(options: RateBudgetOptions) {
    if (!(options.perSecond > 0) || !(options.perMinute > 0))
      throw new RangeError('perSecond and perMinute must be positive');
    const factory = options.limiterFactory ?? defaultLimiterFactory;
    this.perSecond = factory(options.perSecond, 1, 'upstream-budget:1s');
    this.perMinute = factory(options.perMinute, 60, 'upstream-budget:60s');
    this.key = options.key ?? 'claid';
    this.jitterMs = options.jitterMs ?? 100;
    this.spacingMs = 1000 / options.perSecond;
    this.shared = options.shared;
    this.logger = options.logger.child({ component: 'upstream-budget' });
  }

  /** Resolves when one upstream request may be sent; rejects once the budget is closed or `signal` aborts. */
  acquire(kind: 'submit' | 'read', options: AcquireOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(budgetError('The upstream budget is closed.'));
    const scope = priorityContext.getStore();
    const priority = options.priority ?? (kind === 'submit' ? 'submit' : (scope?.priority ?? 'watched'));
    const since = options.since ?? scope?.since ?? Date.now();
    const signal = options.signal ?? scope?.signal;
    if (signal?.aborted) return Promise.reject(budgetError('Gave up waiting for the upstream budget.'));

    return new Promise<void>((resolve, reject) => {
      const onAbort = () => this.settle(waiter, budgetError('Gave up waiting for the upstream budget.'));
      const waiter: Waiter = {
        kind,
        priority,
        since,
        seq: this.seq++,
        settled: false,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      this.queuedByPriority[priority]++;
      void this.pump();
    });
  }

  /** Runs `fn` so that every acquire() it causes, the Claid client's included, is queued with `options`. */
  withPriority<T>(options: AcquireOptions, fn: () => Promise<T>): Promise<T> {
    return priorityContext.run(options, fn);
  }

  observe(obs: { httpStatus: number | null; remaining: number | null; resetSeconds: number | null }): void {
    const { httpStatus, remaining, resetSeconds } = obs;
    if (httpStatus === 429) {
      this.rateLimited++;
      const ms = Math.max((resetSeconds ?? 1) * 1000, this.spacingMs) + this.jitter();
      this.pause(ms, true);
      this.logger.warn({ resetSeconds, pauseMs: Math.round(ms) }, 'upstream rate limited: pausing all upstream calls');
    } else if (remaining !== null && remaining <= 0) {
      const ms = (resetSeconds ?? 1) * 1000 + this.jitter();
      this.pause(ms, true);
      this.logger.debug({ resetSeconds, pauseMs: Math.round(ms) }, 'upstream quota spent: pausing until it resets');
    }

    if (httpStatus === null || httpStatus >= 500) {
      this.consecutiveFailures++;
      // One failure is the client's to retry; a run of them means the upstream is struggling, so everyone waits.
      if (this.consecutiveFailures >= 2) {
        const base = Math.min(FAILURE_BACKOFF_MAX_MS, FAILURE_BACKOFF_BASE_MS * 2 ** (this.consecutiveFailures - 2));
        const ms = base * (0.5 + Math.random() / 2);
        this.pause(ms);
        this.logger.warn(
          { failures: this.consecutiveFailures, pauseMs: Math.round(ms) },
          'upstream failing: backing off',
        );
      }
    } else {
      this.consecutiveFailures = 0;
    }
  }

  stats(): RateBudgetStats {
    return {
      granted: { ...this.granted },
      grantedByKind: { ...this.grantedByKind },
      queued: this.queuedByPriority.submit + this.queuedByPriority.watched + this.queuedByPriority.background,
      queuedByPriority: { ...this.queuedByPriority },
      pausedForMs: Math.max(0, this.pausedUntil - Date.now()),
      rateLimited: this.rateLimited,
      consecutiveFailures: this.consecutiveFailures,
    };
  }

  /** Rejects every waiter and every later acquire(). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    for (const waiter of this.queue.drain()) this.settle(waiter, budgetError('The upstream budget is closed.'));
  }

  private settle(waiter: Waiter, error?: Error): void {
    if (waiter.settled) return;
    waiter.settled = true;
    waiter.cleanup();
    this.queuedByPriority[waiter.priority]--;
    if (error) waiter.reject(error);
    else waiter.resolve();
  }

  /** The next waiter still waiting, dropping those that gave up. */
  private peekLive(): Waiter | undefined {
    while (this.queue.peek()?.settled) this.queue.pop();
    return this.queue.peek();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let failed = false;
    try {
      while (!this.closed && this.peekLive()) {
        const now = Date.now();
        const waitMs = Math.max(this.pausedUntil - now, this.lastGrantAt + this.spacingMs - now);
        if (waitMs > 0) {
          await this.sleep(waitMs);
          continue;
        }
        const refusedForMs = await this.take();
        if (refusedForMs > 0) {
          await this.sleep(refusedForMs);
          continue;
        }
        // The shared slot last, holding the points meanwhile: the less lies between it and the request going out,
        // the less the spacing that other instances see is blurred.
        if (!(await this.reserveShared())) {
          await this.giveBack();
          break;
        }
        // Pick the waiter only now: someone more urgent may have arrived while the limiters answered.
        const waiter = this.peekLive();
        if (!waiter || this.closed) {
          await this.giveBack();
          break;
        }
        this.queue.pop();
        this.lastGrantAt = Date.now();
        this.granted[waiter.priority]++;
        this.grantedByKind[waiter.kind]++;
        this.settle(waiter);
      }
    } catch (error) {
      failed = true;
      this.logger.error({ err: error }, 'upstream budget pump failed');
    } finally {
      this.pumping = false;
    }
    // A waiter that arrived while the loop was finishing would otherwise wait for the next acquire().
    if (this.closed || !this.peekLive()) return;
    if (failed) setTimeout(() => void this.pump(), STORE_ERROR_RETRY_MS);
    else void this.pump();
  }

  /** Takes one point from both windows; 0 when granted, else how long to wait. */
  private async take(): Promise<number> {
    try {
      await this.perSecond.consume(this.key, 1);
    } catch (refusal) {
      return this.refusalWait(refusal);
    }
    try {
      await this.perMinute.consume(this.key, 1);
    } catch (refusal) {
      // The second's point was not used: give it back, so that both windows count the same requests.
      await this.perSecond.reward(this.key, 1).catch(() => undefined);
      return this.refusalWait(refusal);
    }
    return 0;
  }

  /** Waits for a grant slot shared with other instances (and for their 429 pause); false when closed meanwhile. */
  private async reserveShared(): Promise<boolean> {
    if (!this.shared) return true;
    for (;;) {
      const waitMs = await this.shared.reserve(this.spacingMs);
      if (this.closed) return false;
      if (waitMs <= 0) return true;
      await this.sleep(waitMs);
    }
  }

  private async giveBack(): Promise<void> {
    await Promise.all([
      this.perSecond.reward(this.key, 1).catch(() => undefined),
      this.perMinute.reward(this.key, 1).catch(() => undefined),
    ]);
  }

  private refusalWait(refusal: unknown): number {
    if (refusal instanceof RateLimiterRes) return Math.max(1, refusal.msBeforeNext);
    this.logger.warn({ err: refusal }, 'rate limiter store failed; retrying');
    return STORE_ERROR_RETRY_MS;
  }

  /** `share`: the upstream said the account's quota is spent, which holds for every instance. */
  private pause(ms: number, share = false): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
    if (share) void this.shared?.pause(ms);
  }

  private jitter(): number {
    return Math.random() * this.jitterMs;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeping = undefined;
        resolve();
      }, ms);
      this.sleeping = { timer, wake: resolve };
    });
  }

  private wake(): void {
    if (!this.sleeping) return;
    clearTimeout(this.sleeping.timer);
    const { wake } = this.sleeping;
    this.sleeping = undefined;
    wake();
  }
}
