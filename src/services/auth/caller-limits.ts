import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { creditsFor } from '../../domain/caller-webhook.js';
import type { AiEditRequest } from '../../domain/job.js';
import { once } from '../../lib/once.js';
import { CreditBudget, type CreditBudgetDeps } from './credit-budget.js';
import { RateLimitedError } from './rate-limited-error.js';

// Spend limits per caller, checked before any upstream call: submits per minute, unfinished jobs at once, open
// subscriptions per connection and per caller (counters in this process: one instance's view), and credits per UTC
// day (counted in the store: every instance's view, credit-budget.ts).

export interface CallerLimitsConfig {
  maxSubmitsPerMinute: number;
  maxUnfinishedJobs: number;
  maxSubscriptionsPerConnection: number;
  maxSubscriptionsPerCaller: number;
  /** MAX_CREDITS_PER_DAY: a caller's API key may carry its own. */
  maxCreditsPerDay: number;
}

export interface CallerLimitsDeps extends CreditBudgetDeps {
  /** How many of the owner's jobs are unfinished, counting at most up to `atLeast` (the store). */
  countUnfinished(owner: string, atLeast: number): Promise<number>;
}

/** Seconds suggested to a caller at the unfinished-jobs cap: jobs finish on their own, so look again soon. */
const UNFINISHED_RETRY_AFTER_SECONDS = 5;

export { RateLimitedError };

/** What a caller may spend and has spent, by the same counts the limits refuse with (Query.viewer). */
export interface CallerUsage {
  limits: CallerLimitsConfig;
  creditsToday: number;
  creditsResetAt: Date;
  submitsThisMinute: number;
  /** When the current minute's submit count starts again; null when nothing was submitted in it. */
  submitsResetAt: Date | null;
  unfinishedJobs: number;
  /** On this instance: subscriptions are counted per process. */
  openSubscriptions: number;
}

/** Unfinished jobs are counted up to this for the viewer (the limit itself reads only up to MAX_UNFINISHED_JOBS). */
const UNFINISHED_SHOWN_AT_MOST = 1000;

export class CallerLimits {
  private readonly submits: RateLimiterMemory;
  /** Submits admitted but not yet stored, so that a burst cannot slip past the unfinished-jobs cap. */
  private readonly inFlight = new Map<string, number>();
  private readonly subscriptionsByCaller = new Map<string, number>();
  private readonly subscriptionsByConnection = new WeakMap<object, number>();
  readonly credits: CreditBudget;

  constructor(
    private readonly config: CallerLimitsConfig,
    private readonly deps: CallerLimitsDeps,
  ) {
    this.credits = new CreditBudget(config.maxCreditsPerDay, deps);
    this.submits = new RateLimiterMemory({ points: config.maxSubmitsPerMinute, duration: 60, keyPrefix: 'submits' });
  }

  /**
   * Admits one upstream submit for `owner` or throws RATE_LIMITED; with the request, its credits are reserved too.
   * The returned release must be called once the submit is stored or has failed.
   */
  async admitSubmit(owner: string, request?: Pick<AiEditRequest, 'output'>): Promise<() => void> {
    const pending = this.inFlight.get(owner) ?? 0;
    this.inFlight.set(owner, pending + 1);
    let releaseCredits: (() => void) | undefined;
    const release = once(() => {
      releaseCredits?.();
      const left = (this.inFlight.get(owner) ?? 1) - 1;
      if (left > 0) this.inFlight.set(owner, left);
      else this.inFlight.delete(owner);
    });
    try {
      const max = this.config.maxUnfinishedJobs;
      const unfinished = await this.deps.countUnfinished(owner, max);
      if (unfinished + pending >= max) {
        throw new RateLimitedError(
          `Too many unfinished jobs (at most ${max} at once); wait for some to finish.`,
          'MAX_UNFINISHED_JOBS',
          UNFINISHED_RETRY_AFTER_SECONDS,
        );
      }
      if (request) releaseCredits = await this.credits.reserve(owner, creditsFor(request));
      try {
        await this.submits.consume(owner);
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        throw new RateLimitedError(
          `Too many submits (at most ${this.config.maxSubmitsPerMinute} a minute).`,
          'MAX_SUBMITS_PER_MINUTE',
          Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)),
        );
      }
      return release;
    } catch (error) {
      release();
      throw error;
    }
  }

  /** The caller's limits and usage: the numbers admitSubmit and acquireSubscription judge by. */
  async usage(owner: string, now: Date = new Date()): Promise<CallerUsage> {
    const [credits, submits, unfinished] = await Promise.all([
      this.credits.usage(owner),
      this.submits.get(owner),
      this.deps.countUnfinished(owner, Math.max(this.config.maxUnfinishedJobs, UNFINISHED_SHOWN_AT_MOST)),
    ]);
    const submitted = submits?.consumedPoints ?? 0;
    return {
      limits: { ...this.config, maxCreditsPerDay: credits.limit },
      creditsToday: credits.spent,
      creditsResetAt: credits.resetAt,
      submitsThisMinute: submitted,
      submitsResetAt: submits && submitted > 0 ? new Date(now.getTime() + submits.msBeforeNext) : null,
      unfinishedJobs: unfinished + (this.inFlight.get(owner) ?? 0),
      openSubscriptions: this.subscriptionsByCaller.get(owner) ?? 0,
    };
  }

  /**
   * Takes a subscription slot for `owner` (and its graphql-ws connection, if any) or throws RATE_LIMITED.
   * Returns the release, safe to call more than once.
   */
  acquireSubscription(owner: string, connection?: object): () => void {
    const byCaller = this.subscriptionsByCaller.get(owner) ?? 0;
    const byConnection = connection ? (this.subscriptionsByConnection.get(connection) ?? 0) : 0;
    if (connection && byConnection >= this.config.maxSubscriptionsPerConnection) {
      throw new RateLimitedError(
        `Too many subscriptions on this connection (at most ${this.config.maxSubscriptionsPerConnection}).`,
        'MAX_SUBSCRIPTIONS_PER_CONNECTION',
      );
    }
    if (byCaller >= this.config.maxSubscriptionsPerCaller) {
      throw new RateLimitedError(
        `Too many subscriptions (at most ${this.config.maxSubscriptionsPerCaller} at once).`,
        'MAX_SUBSCRIPTIONS_PER_CALLER',
      );
    }
    this.subscriptionsByCaller.set(owner, byCaller + 1);
    if (connection) this.subscriptionsByConnection.set(connection, byConnection + 1);
    return once(() => {
      const callerLeft = (this.subscriptionsByCaller.get(owner) ?? 1) - 1;
      if (callerLeft > 0) this.subscriptionsByCaller.set(owner, callerLeft);
      else this.subscriptionsByCaller.delete(owner);
      if (connection)
        this.subscriptionsByConnection.set(
          connection,
          Math.max(0, (this.subscriptionsByConnection.get(connection) ?? 1) - 1),
        );
    });
  }
}
