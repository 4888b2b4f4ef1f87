// Claid-style rate limit bookkeeping: a per-second and a per-minute fixed window (aligned to the clock), reported as
// `RateLimit-Limit: 4, 120;w=60, 4;w=1`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the binding
// window resets). The first RateLimit-Limit value names the window closest to running out. The simulator keeps one
// for the account (every API call) and, when asked to, one for generations (submits: Claid's 1/s and 60/min).

export interface RateLimitDecision {
  allowed: boolean;
  /** Which window refused (the minute when both are spent); undefined when allowed. */
  refusedBy?: 'second' | 'minute';
  headers: Record<string, string>;
}

interface Window {
  sizeMs: number;
  limit: number;
  start: number;
  count: number;
}

export class FixedWindowRateLimiter {
  private readonly second: Window;
  private readonly minute: Window;

  constructor(
    perSecond: number,
    perMinute: number,
    /** When false the counts still drive the headers, but nothing is refused. */
    private readonly enforce: boolean,
  ) {
    this.second = { sizeMs: 1000, limit: perSecond, start: 0, count: 0 };
    this.minute = { sizeMs: 60_000, limit: perMinute, start: 0, count: 0 };
  }

  /** Counts one request against both windows, unless it is refused. */
  take(now = Date.now()): RateLimitDecision {
    this.roll(now);
    const allowed = !this.enforce || (this.second.count < this.second.limit && this.minute.count < this.minute.limit);
    if (allowed) {
      this.second.count++;
      this.minute.count++;
    }
    const headers = this.headers(now, !allowed);
    if (allowed) return { allowed, headers };
    return { allowed, refusedBy: this.minute.count >= this.minute.limit ? 'minute' : 'second', headers };
  }

  /** Headers for a response that does not count (auth failures, injected failures, files). */
  peek(now = Date.now()): Record<string, string> {
    this.roll(now);
    return this.headers(now, false);
  }

  reset(): void {
    this.second.count = 0;
    this.minute.count = 0;
  }

  private roll(now: number): void {
    for (const w of [this.second, this.minute]) {
      const start = now - (now % w.sizeMs);
      if (start !== w.start) {
        w.start = start;
        w.count = 0;
      }
    }
  }

  private headers(now: number, refused: boolean): Record<string, string> {
    const remSecond = this.second.limit - this.second.count;
    const remMinute = this.minute.limit - this.minute.count;
    // a refused request waits for the minute window if that one is spent, else for the second
    const binding = (refused ? remMinute <= 0 : remMinute < remSecond) ? this.minute : this.second;
    const remaining = refused ? -1 : Math.max(0, Math.min(remSecond, remMinute));
    const reset = Math.max(1, Math.ceil((binding.start + binding.sizeMs - now) / 1000));
    return {
      'RateLimit-Limit': `${binding.limit}, ${this.minute.limit};w=60, ${this.second.limit};w=1`,
      'RateLimit-Remaining': String(remaining),
      'RateLimit-Reset': String(reset),
    };
  }
}
