import { LRUCache } from 'lru-cache';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TTL_CLOCK_MAX_MS, ttlClockResolution } from '../../src/lib/ttl-clock.js';
import { parseCaches } from '../../src/transport/parse-caches.js';

// Caches with a TTL read the clock at most every hundredth of it, a second at most: lru-cache sets a timer on every
// fresh reading, which with its default resolution (1 ms) is one per lookup on a gateway whose requests are a few
// milliseconds apart.

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs the event loop for `ms` without setting a timer of its own, and then once more: each turn passes the timers
 * phase, so a timer due within `ms` has run by the end even when one turn took longer than `ms` (a loaded machine).
 */
async function turnFor(ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) await nextTurn();
  await nextTurn();
}

/** Timers set by ten lookups 3 ms apart, the event loop running in between as it does between requests. */
async function timersSetByLookups(cache: LRUCache<string, object>): Promise<number> {
  cache.set('{ a }', { kind: 'Document' });
  const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
  for (let i = 0; i < 10; i++) {
    await turnFor(3);
    expect(cache.get('{ a }')).toBeDefined();
  }
  const count = setTimeoutSpy.mock.calls.length;
  setTimeoutSpy.mockRestore();
  return count;
}

describe('the clock of caches with a TTL', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is read every hundredth of the TTL, a second at most, a millisecond at least', () => {
    expect(ttlClockResolution(3_600_000)).toBe(TTL_CLOCK_MAX_MS);
    expect(ttlClockResolution(300)).toBe(3);
    expect(ttlClockResolution(50)).toBe(1);
  });

  it('sets one timer for ten lookups a few milliseconds apart, where lru-cache by default sets one each', async () => {
    const coarse = new LRUCache<string, object>({
      max: 8,
      ttl: 3_600_000,
      ttlResolution: ttlClockResolution(3_600_000),
    });
    expect(await timersSetByLookups(coarse)).toBeLessThanOrEqual(1);
    expect(await timersSetByLookups(new LRUCache<string, object>({ max: 8, ttl: 3_600_000 }))).toBeGreaterThanOrEqual(
      9,
    );
  });

  it('is what the parse caches use: 1,024 documents, an hour each', () => {
    const { documentCache, errorCache } = parseCaches();
    for (const cache of [documentCache, errorCache]) {
      expect(cache.max).toBe(1_024);
      expect(cache.ttl).toBe(3_600_000);
      expect(cache.ttlResolution).toBe(TTL_CLOCK_MAX_MS);
    }
  });
});
