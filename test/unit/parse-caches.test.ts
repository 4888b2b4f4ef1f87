import { LRUCache } from 'lru-cache';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PARSE_CACHE_CLOCK_MS, parseCaches } from '../../src/transport/parse-caches.js';

// The parse caches read the clock at most once a second: lru-cache sets a timer on every fresh reading, which with
// its default resolution (1 ms) is one per lookup on a gateway whose requests are a few milliseconds apart.

/** Runs the event loop (its timers included) for `ms` without setting a timer of its own. */
async function turnFor(ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) await new Promise((resolve) => setImmediate(resolve));
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

describe('parse caches', () => {
  afterEach(() => vi.restoreAllMocks());

  it('hold 1,024 documents for an hour, and read the clock at most once a second', async () => {
    const { documentCache, errorCache } = parseCaches();
    for (const cache of [documentCache, errorCache]) {
      expect(cache.max).toBe(1_024);
      expect(cache.ttl).toBe(3_600_000);
      expect(cache.ttlResolution).toBe(PARSE_CACHE_CLOCK_MS);
    }
    expect(await timersSetByLookups(documentCache as unknown as LRUCache<string, object>)).toBeLessThanOrEqual(1);
    // What Yoga's own caches do: a timer per lookup.
    const yogas = new LRUCache<string, object>({ max: 1_024, ttl: 3_600_000 });
    expect(await timersSetByLookups(yogas)).toBeGreaterThanOrEqual(9);
  });
});
