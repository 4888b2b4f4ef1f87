// How often an lru-cache with a TTL may read the clock (its `ttlResolution`). lru-cache's default is 1 ms: a lookup
// more than a millisecond after the previous one reads the clock again and sets a timer to forget that reading, so
// a server answering a request every few milliseconds sets a timer on every lookup (seen in the submit path's
// profile, bench/README.md, 2026-12-02). A hundredth of the TTL, a second at most, keeps an entry's end as exact as
// anyone can see: it lives at most that much longer.

/** The longest a clock reading is reused. */
export const TTL_CLOCK_MAX_MS = 1_000;

export function ttlClockResolution(ttlMs: number): number {
  return Math.max(1, Math.min(TTL_CLOCK_MAX_MS, Math.floor(ttlMs / 100)));
}
