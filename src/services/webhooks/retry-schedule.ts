import type { DeliveryNext } from '../store/caller-store.js';

// When a failed delivery is tried again: exponential backoff (base, 2 base, 4 base, ... capped at maxGapMs) with
// jitter that only shortens a gap by up to a quarter, so that gaps still grow while receivers are not hit by every
// instance's retries in lockstep. Retrying stops once the next try would fall past the window (about 2 hours).

export interface RetryPolicy {
  /** The first gap: WEBHOOK_RETRY_BASE_MS. */
  baseMs: number;
  /** The longest gap. */
  maxGapMs: number;
  /** How long after the event it is still tried. */
  windowMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseMs: 10_000,
  maxGapMs: 30 * 60 * 1000,
  windowMs: 2 * 60 * 60 * 1000,
};

/** The gap after failed attempt `attempt` (1 for the first), before jitter. */
export const backoffMs = (policy: RetryPolicy, attempt: number): number =>
  Math.min(policy.maxGapMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));

/**
 * What becomes of a delivery after attempt `attempt` answered `httpStatus` (null: no answer): 2xx delivered, 410
 * gone (the receiver asks to stop), anything else tried again within the window.
 */
export function nextAfterAttempt(
  policy: RetryPolicy,
  attempt: number,
  httpStatus: number | null,
  createdAt: Date,
  now: Date,
  random: () => number = Math.random,
): DeliveryNext {
  if (httpStatus !== null && httpStatus >= 200 && httpStatus < 300) return { state: 'DELIVERED' };
  if (httpStatus === 410) return { state: 'GONE' };
  const gap = backoffMs(policy, attempt) * (0.75 + 0.25 * random());
  const nextAttemptAt = new Date(now.getTime() + gap);
  if (nextAttemptAt.getTime() > createdAt.getTime() + policy.windowMs) return { state: 'FAILED' };
  return { state: 'PENDING', nextAttemptAt };
}
