import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../../lib/logger.js';
import type { LimiterFactory } from './budget-types.js';

/** Wait before asking a limiter store again after it failed (e.g. Redis down and no insurance limiter). */
export const STORE_ERROR_RETRY_MS = 1_000;

const defaultLimiterFactory: LimiterFactory = (points, duration, keyPrefix) =>
  new RateLimiterMemory({ points, duration, keyPrefix });

/** The account's two windows (per second, per minute): a token is one point taken from both. */
export class LimiterWindows {
  private readonly perSecond: RateLimiterAbstract;
  private readonly perMinute: RateLimiterAbstract;

  constructor(
    perSecond: number,
    perMinute: number,
    private readonly key: string,
    private readonly logger: Logger,
    factory: LimiterFactory = defaultLimiterFactory,
    /** Names the windows (and their Redis keys): one budget, one name. */
    name = 'upstream-budget',
  ) {
    this.perSecond = factory(perSecond, 1, `${name}:1s`);
    this.perMinute = factory(perMinute, 60, `${name}:60s`);
  }

  /** Points left in the tighter window now, without taking any; 0 when the limiter store cannot say. */
  async remaining(): Promise<number> {
    try {
      const left = await Promise.all(
        [this.perSecond, this.perMinute].map(async (limiter) => {
          const used = await limiter.get(this.key);
          return used ? used.remainingPoints : limiter.points;
        }),
      );
      return Math.min(...left);
    } catch {
      return 0;
    }
  }

  /** Takes one point from both windows; 0 when granted, else how long to wait. */
  async take(): Promise<number> {
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

  /** Returns a point taken from both windows but not used. */
  async giveBack(): Promise<void> {
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
}
