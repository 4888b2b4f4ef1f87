import type { Logger } from '../../lib/logger.js';
import type { SharedBudgetGate } from './budget-types.js';

const FAILURE_BACKOFF_BASE_MS = 250;
const FAILURE_BACKOFF_MAX_MS = 15_000;

export interface UpstreamObservation {
  httpStatus: number | null;
  remaining: number | null;
  resetSeconds: number | null;
  /** The window `remaining` counts, when the upstream names it (RateLimit-Limit): its width (s) and limit. */
  window?: { seconds: number; limit: number };
}

/** Why grants were paused: a 429, the quota's remaining count at 0, or a run of 5xx / network failures. */
export type PauseReason = 'rate_limited' | 'quota_spent' | 'failures';

/**
 * When grants must stop for everyone: after a 429 or a spent quota (shared with other instances, since the quota is
 * the account's), and after a run of 5xx or network failures (this instance's own back-off).
 */
export class UpstreamPause {
  private pausedUntil = 0;
  private rateLimitedCount = 0;
  private failuresInARow = 0;
  private readonly pauses: Record<PauseReason, number> = { rate_limited: 0, quota_spent: 0, failures: 0 };

  constructor(
    /** Grant spacing: a 429's pause is never shorter. */
    private readonly spacingMs: number,
    /** Up to this much random extra wait after a 429 or a spent quota. */
    private readonly jitterMs: number,
    private readonly logger: Logger,
    private readonly shared: SharedBudgetGate | undefined,
  ) {}

  /** Epoch ms before which no grant may be made. */
  get until(): number {
    return this.pausedUntil;
  }

  get rateLimited(): number {
    return this.rateLimitedCount;
  }

  get consecutiveFailures(): number {
    return this.failuresInARow;
  }

  /** Pauses begun, by reason. */
  get pausesByReason(): Record<PauseReason, number> {
    return { ...this.pauses };
  }

  observe({ httpStatus, remaining, resetSeconds, window }: UpstreamObservation): void {
    if (httpStatus === 429) {
      this.rateLimitedCount++;
      const ms = Math.max((resetSeconds ?? 1) * 1000, this.spacingMs) + this.jitter();
      this.pause(ms, 'rate_limited');
      this.logger.warn({ resetSeconds, pauseMs: Math.round(ms) }, 'upstream rate limited: pausing all upstream calls');
    } else if (remaining !== null && remaining <= 0 && !this.ownSecond(window)) {
      const ms = (resetSeconds ?? 1) * 1000 + this.jitter();
      this.pause(ms, 'quota_spent');
      this.logger.debug({ resetSeconds, pauseMs: Math.round(ms) }, 'upstream quota spent: pausing until it resets');
    }

    if (httpStatus === null || httpStatus >= 500) {
      this.failuresInARow++;
      // One failure is the client's to retry; a run of them means the upstream is struggling, so everyone waits.
      if (this.failuresInARow >= 2) {
        const base = Math.min(FAILURE_BACKOFF_MAX_MS, FAILURE_BACKOFF_BASE_MS * 2 ** (this.failuresInARow - 2));
        const ms = base * (0.5 + Math.random() / 2);
        this.pause(ms, 'failures');
        this.logger.warn({ failures: this.failuresInARow, pauseMs: Math.round(ms) }, 'upstream failing: backing off');
      }
    } else {
      this.failuresInARow = 0;
    }
  }

  /**
   * A spent second the budget itself keeps is not paused for: the grant log holds every second to the same limit
   * already, and the reset, in whole seconds, would stop grants up to a second longer than the window needs (about a
   * tenth of a busy account's calls). A spent minute, a second stricter than the budget's (another client on the
   * account, a wrong setting), or a window the upstream does not name, is paused for.
   */
  private ownSecond(window: UpstreamObservation['window']): boolean {
    return window !== undefined && window.seconds <= 1 && window.limit >= Math.round(1000 / this.spacingMs);
  }

  /** A 429 or a spent quota is the account's, so it holds for every instance; failures are this one's back-off. */
  private pause(ms: number, reason: PauseReason): void {
    this.pauses[reason]++;
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
    if (reason !== 'failures') void this.shared?.pause(ms);
  }

  private jitter(): number {
    return Math.random() * this.jitterMs;
  }
}
