import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

// Yoga's parse caches (documents and parse errors by query text), as Yoga makes them (1,024 entries, an hour each),
// but with a clock that is read at most once a second. lru-cache's default `ttlResolution` is 1 ms: a lookup more
// than a millisecond after the previous one reads the clock again and sets a timer to forget it, so a gateway
// serving a request every few milliseconds set a timer on every request, twice (the lookup and the store), and
// the timers showed in the submit path's profile (bench/README.md, 2026-12-02). On an hour's TTL a second's
// resolution changes nothing a caller can see.

const MAX_DOCUMENTS = 1_024;
const TTL_MS = 3_600_000;
/** How long a reading of the clock is reused for the entries' ages. */
export const PARSE_CACHE_CLOCK_MS = 1_000;

export interface ParseCaches {
  documentCache: LRUCache<string, DocumentNode>;
  errorCache: LRUCache<string, object>;
}

export function parseCaches(): ParseCaches {
  const options = { max: MAX_DOCUMENTS, ttl: TTL_MS, ttlResolution: PARSE_CACHE_CLOCK_MS };
  return { documentCache: new LRUCache(options), errorCache: new LRUCache(options) };
}
