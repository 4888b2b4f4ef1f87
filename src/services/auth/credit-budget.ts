import { utcDayStart } from '../../domain/caller-webhook.js';
import { once } from '../../lib/once.js';
import { RateLimitedError } from './rate-limited-error.js';

// MAX_CREDITS_PER_DAY: what a caller's jobs of this UTC day cost, counted from the store (so every instance on it
// agrees, and a job that ends ERROR without an image gives its credits back by itself), plus the submits this
// process has admitted but not yet stored. Two instances admitting at the same instant can each pass the last
// credits (as with MAX_UNFINISHED_JOBS): the budget is exact across instances once the jobs are stored.

export interface CreditBudgetDeps {
  /** Credits the owner's jobs created since `since` cost (the store: CallerStore.creditsSpent). */
  creditsSpent(owner: string, since: Date): Promise<number>;
  /** A caller's own limit (its API key's `maxCreditsPerDay=`), if it has one. */
  maxCreditsPerDayOf?(owner: string): number | undefined;
  now?: () => Date;
}

export interface CreditUsage {
  /** Spent today (UTC), including submits admitted here and not yet stored. */
  spent: number;
  limit: number;
  /** The next midnight UTC, when the day's count starts again. */
  resetAt: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export class CreditBudget {
  private readonly inFlight = new Map<string, number>();
  private readonly now: () => Date;

  constructor(
    private readonly maxCreditsPerDay: number,
    private readonly deps: CreditBudgetDeps,
  ) {
    this.now = deps.now ?? (() => new Date());
  }

  limitOf(owner: string): number {
    return this.deps.maxCreditsPerDayOf?.(owner) ?? this.maxCreditsPerDay;
  }

  async usage(owner: string): Promise<CreditUsage> {
    const dayStart = utcDayStart(this.now());
    const stored = await this.deps.creditsSpent(owner, dayStart);
    return {
      spent: stored + (this.inFlight.get(owner) ?? 0),
      limit: this.limitOf(owner),
      resetAt: new Date(dayStart.getTime() + DAY_MS),
    };
  }

  /**
   * Reserves `credits` for one submit or throws RATE_LIMITED (limit MAX_CREDITS_PER_DAY, with retryAfterSeconds and
   * resetAt). The release is called once the job is stored (from then on it counts itself) or its submit failed.
   */
  async reserve(owner: string, credits: number): Promise<() => void> {
    const pending = this.inFlight.get(owner) ?? 0;
    this.inFlight.set(owner, pending + credits);
    const release = once(() => {
      const left = (this.inFlight.get(owner) ?? credits) - credits;
      if (left > 0) this.inFlight.set(owner, left);
      else this.inFlight.delete(owner);
    });
    try {
      const dayStart = utcDayStart(this.now());
      const spent = (await this.deps.creditsSpent(owner, dayStart)) + pending;
      const limit = this.limitOf(owner);
      if (spent + credits > limit) {
        const resetAt = new Date(dayStart.getTime() + DAY_MS);
        throw new RateLimitedError(
          `Not enough credits left today: this submit costs ${credits}, ${Math.max(0, limit - spent)} of ` +
            `${limit} are left until ${resetAt.toISOString()}.`,
          'MAX_CREDITS_PER_DAY',
          Math.max(1, Math.ceil((resetAt.getTime() - this.now().getTime()) / 1000)),
          { resetAt: resetAt.toISOString() },
        );
      }
      return release;
    } catch (error) {
      release();
      throw error;
    }
  }
}
