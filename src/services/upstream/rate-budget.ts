import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../../lib/logger.js';
import { type PauseReason, type UpstreamObservation, UpstreamPause } from './budget-pause.js';
import type { AcquireOptions, BudgetPriority, PriorityScope, SharedBudgetGate } from './budget-types.js';
import { BudgetWaiters, budgetError, type RequestKind } from './budget-waiters.js';
import type { UpstreamBudget } from './claid-client.js';
import type { GenerationGate } from './generation-budget.js';
import { type GrantWindows, type GrantWindowsFactory, memoryGrantWindows } from './grant-log.js';
import { MinuteUse } from './minute-use.js';

// The account-wide upstream budget (claid-facts.md: ~4 requests/s and 120/min for everything, submits included).
//
// Every HTTP attempt the Claid client makes calls acquire() first, so one attempt costs exactly one token. Callers
// that want a place in the queue other than the default (the poller) do not acquire a token of their own, which
// would charge each read twice and still leave the client's retries unordered; they run the read inside
// withPriority(), and acquire() picks the priority up from that async context. Plain acquire('read') calls (a query
// refreshing a stale job for someone who is waiting) rank with watched jobs.
//
// One loop (pump) grants tokens: it waits out the pause (budget-pause.ts) and the spacing, takes a grant from the
// account's windows (grant-log.ts) and the shared slot, and only then picks the most urgent waiter
// (budget-waiters.ts). A submit is granted only together with a generation (generation-budget.ts), taken at that
// moment: while none is free, the token goes to the most urgent read.

export interface RateBudgetOptions {
  perSecond: number;
  perMinute: number;
  logger: Logger;
  /** The windows' store: this process's memory by default, Redis to share them (scale-out/redis-grant-windows.ts). */
  grantWindows?: GrantWindowsFactory | undefined;
  /** Shared spacing and pause across instances; without one, both are this process's own. */
  shared?: SharedBudgetGate;
  /** The limiter key: one per upstream account. Default 'claid'. */
  key?: string;
  /** Up to this much random extra wait after a 429 or a spent quota. Default 100 ms. */
  jitterMs?: number;
  /** Claid's generation limit: every submit's token comes with a generation. Absent: submits need none. */
  generations?: GenerationGate | undefined;
}

export interface RateBudgetStats {
  granted: Record<BudgetPriority, number>;
  grantedByKind: Record<RequestKind, number>;
  queued: number;
  queuedByPriority: Record<BudgetPriority, number>;
  /** How much longer grants are paused (429, spent quota, or failure back-off); 0 when not paused. */
  pausedForMs: number;
  /** 429 answers observed. */
  rateLimited: number;
  /** 5xx or network failures in a row. */
  consecutiveFailures: number;
  /** Pauses of every grant begun, by reason. */
  pauses: Record<PauseReason, number>;
}

/** A token granted before the call that spends it: the first acquire() in its scope takes it instead of waiting. */
interface HeldGrant {
  spent: boolean;
  grantedAt: number;
}

/**
 * A held token older than this when its request would leave is not used: the windows counted it at its grant, and
 * a request sent much later could land in an upstream second that already has its share. A fresh one is waited for
 * (the stale one stays counted: the budget errs on the safe side). The grant log's second is 100 ms wider than the
 * upstream's (grant-log.ts), which covers a request sent up to this much after its grant.
 */
export const FRESH_GRANT_MS = 100;

/** Wait before pumping again after the windows' store failed. */
const STORE_ERROR_RETRY_MS = 1_000;

/** Longest pause a submit waits in line for rather than going to the submit queue. */
const AT_ONCE_TOLERANCE_MS = 1_000;

/**
 * Longest rest of the generations' spacing a submit waits in line for. At a high limit the spacing is about a
 * millisecond, less than one submit takes, so two submits in a row would otherwise see the second one queued for
 * nothing; at Claid's 1 a second a submit that arrives within the spacing still goes to the queue, as it should.
 */
const SPACING_TOLERANCE_MS = 20;

const priorityContext = new AsyncLocalStorage<AcquireOptions & { grant?: HeldGrant }>();

export class RateBudget implements UpstreamBudget, PriorityScope {
  private readonly windows: GrantWindows;
  private readonly generations: GenerationGate | undefined;
  private readonly pause: UpstreamPause;
  private readonly waiters = new BudgetWaiters();
  /** Grants are spaced evenly, so that a sliding-window upstream never sees two windows' worth in one second. */
  private readonly spacingMs: number;
  private readonly logger: Logger;
  private readonly shared: SharedBudgetGate | undefined;

  private readonly granted: Record<BudgetPriority, number> = { submit: 0, watched: 0, background: 0 };
  private readonly grantedByKind: Record<RequestKind, number> = { submit: 0, read: 0 };
  private pumping = false;
  private closed = false;
  private lastGrantAt = Number.NEGATIVE_INFINITY;
  private readonly use: MinuteUse;
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;

  constructor(options: RateBudgetOptions) {
    if (!(options.perSecond > 0) || !(options.perMinute > 0))
      throw new RangeError('perSecond and perMinute must be positive');
    this.logger = options.logger.child({ component: 'upstream-budget' });
    this.windows = (options.grantWindows ?? memoryGrantWindows)(
      { perSecond: options.perSecond, perMinute: options.perMinute },
      'upstream-budget',
      options.key ?? 'claid',
    );
    this.spacingMs = 1000 / options.perSecond;
    this.shared = options.shared;
    this.generations = options.generations;
    this.use = new MinuteUse(this.windows, options.perMinute);
    this.pause = new UpstreamPause(this.spacingMs, options.jitterMs ?? 100, this.logger, options.shared);
  }

  /** Resolves when one upstream request may be sent; rejects once the budget is closed or `signal` aborts. */
  acquire(kind: RequestKind, options: AcquireOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(budgetError('The upstream budget is closed.'));
    const scope = priorityContext.getStore();
    if (scope?.grant && !scope.grant.spent) {
      scope.grant.spent = true;
      if (Date.now() - scope.grant.grantedAt <= FRESH_GRANT_MS) {
        if (kind === 'submit') this.generations?.noteSent();
        return Promise.resolve();
      }
      this.logger.debug(
        { heldMs: Date.now() - scope.grant.grantedAt },
        'a held token went stale: waiting for a fresh one',
      );
    }
    const priority = options.priority ?? (kind === 'submit' ? 'submit' : (scope?.priority ?? 'watched'));
    const since = options.since ?? scope?.since ?? Date.now();
    const granted = this.waiters.wait(kind, priority, since, options.signal ?? scope?.signal);
    void this.pump();
    return granted;
  }

  /** Runs `fn` so that every acquire() it causes, the Claid client's included, is queued with `options`. */
  withPriority<T>(options: AcquireOptions, fn: () => Promise<T>): Promise<T> {
    return priorityContext.run(options, fn);
  }

  /**
   * Runs `fn` with one token already held (granted at `grantedAt`, acquired by the caller beforehand): its first
   * acquire() takes it at once if it is still fresh (FRESH_GRANT_MS), any later one (a retry) waits as usual. The
   * submit queue acquires before it claims a job, so that nothing but the claim lies between the grant and the body
   * leaving.
   */
  withGrantedToken<T>(grantedAt: number, fn: () => Promise<T>): Promise<T> {
    return priorityContext.run({ priority: 'submit', grant: { spent: false, grantedAt } }, fn);
  }

  /**
   * Whether a submit asking now would be granted without waiting for the quota: no submit queued before it, a grant
   * left in both windows, a generation free, and no pause longer than AT_ONCE_TOLERANCE_MS (a 429's pause is at
   * least a second; a short back-off after a 5xx, or the even spacing, is waited for in line), nor a generation
   * spacing ending later than SPACING_TOLERANCE_MS.
   */
  async canGrantSubmitNow(): Promise<boolean> {
    if (this.closed || this.waiters.counts().submit > 0) return false;
    if (this.pause.until - Date.now() > AT_ONCE_TOLERANCE_MS) return false;
    if (this.generations && !(await this.generations.wouldGrantNow(SPACING_TOLERANCE_MS))) return false;
    return (await this.windows.remaining()) > 0;
  }

  observe(observation: UpstreamObservation): void {
    this.pause.observe(observation);
  }

  stats(): RateBudgetStats {
    const queuedByPriority = this.waiters.counts();
    return {
      granted: { ...this.granted },
      grantedByKind: { ...this.grantedByKind },
      queued: queuedByPriority.submit + queuedByPriority.watched + queuedByPriority.background,
      queuedByPriority,
      pausedForMs: Math.max(0, this.pause.until - Date.now()),
      rateLimited: this.pause.rateLimited,
      consecutiveFailures: this.pause.consecutiveFailures,
      pauses: this.pause.pausesByReason,
    };
  }

  /** Rejects every waiter and every later acquire(). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    this.waiters.rejectAll(budgetError('The upstream budget is closed.'));
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let failed = false;
    try {
      while (!this.closed && this.waiters.peek()) {
        const now = Date.now();
        const waitMs = Math.max(this.pause.until - now, this.lastGrantAt + this.spacingMs - now);
        if (waitMs > 0) {
          await this.sleep(waitMs);
          continue;
        }
        // A submit needs a generation too. With only submits waiting, nothing else is taken before one is free: an
        // instance waiting for a generation must not spend the shared slots that another instance's reads could use.
        let generation = this.waiters.peekRead() ? undefined : await this.takeGeneration();
        if (generation && generation.waitMs > 0) {
          await this.sleep(generation.waitMs);
          continue;
        }
        const refusedForMs = await this.windows.take();
        if (refusedForMs > 0) {
          if (generation?.taken) await this.generations?.giveBack();
          await this.sleep(refusedForMs);
          continue;
        }
        // The shared slot last, holding the points meanwhile: the less lies between it and the request going out,
        // the less the spacing that other instances see is blurred.
        if (!(await this.reserveShared())) {
          await this.windows.giveBack();
          if (generation?.taken) await this.generations?.giveBack();
          break;
        }
        // With reads waiting too, the generation comes last, closest to the submit leaving; while none is free the
        // token goes to the most urgent read, unless the generation frees before the next token would: then this
        // token waits for the submit (given to a read, it would push the submit a whole gap later, and the queue
        // would drain slower than the generation limit allows).
        generation ??= await this.takeGeneration();
        if (!generation.taken && generation.waitMs > 0 && generation.waitMs < (await this.gapAfterThisGrantMs())) {
          await this.windows.giveBack();
          await this.sleep(generation.waitMs);
          continue;
        }
        // Pick the waiter only now: someone more urgent may have arrived while the limiters answered.
        const waiter = this.closed ? undefined : this.waiters.grant(generation.taken);
        if (generation.taken && waiter?.kind !== 'submit') await this.generations?.giveBack();
        if (!waiter) {
          await this.windows.giveBack();
          break;
        }
        this.lastGrantAt = Date.now();
        this.use.afterGrant();
        this.granted[waiter.priority]++;
        this.grantedByKind[waiter.kind]++;
      }
    } catch (error) {
      failed = true;
      this.logger.error({ err: error }, 'upstream budget pump failed');
    } finally {
      this.pumping = false;
    }
    // A waiter that arrived while the loop was finishing would otherwise wait for the next acquire().
    if (this.closed || !this.waiters.peek()) return;
    if (failed) setTimeout(() => void this.pump(), STORE_ERROR_RETRY_MS);
    else void this.pump();
  }

  /** Share of the account's minute in use (0..1; minute-use.ts): the learned read planner reads it. */
  minuteUse(): number {
    return this.use.share;
  }

  /** How long after a grant made now the next could go: the spacing, or what the windows (pacing) ask. */
  private async gapAfterThisGrantMs(): Promise<number> {
    return Math.max(this.spacingMs, await this.windows.waitMs());
  }

  /** A generation for the submit waiting, if any waits and one is free (always, without a generation limit). */
  private async takeGeneration(): Promise<{ taken: boolean; waitMs: number }> {
    if (!this.waiters.peekSubmit()) return { taken: false, waitMs: 0 };
    const waitMs = this.generations ? await this.generations.tryTake() : 0;
    return { taken: waitMs === 0, waitMs };
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
