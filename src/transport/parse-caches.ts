import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import { ttlClockResolution } from '../lib/ttl-clock.js';

// Yoga's parse caches (documents and parse errors by query text), as Yoga makes them (1,024 entries, an hour each),
// but reading the clock at most once a second (lib/ttl-clock.ts) where Yoga's own read it on every lookup.

const MAX_DOCUMENTS = 1_024;
const TTL_MS = 3_600_000;

export interface ParseCaches {
  documentCache: LRUCache<string, DocumentNode>;
  errorCache: LRUCache<string, object>;
}

export function parseCaches(): ParseCaches {
  const options = { max: MAX_DOCUMENTS, ttl: TTL_MS, ttlResolution: ttlClockResolution(TTL_MS) };
  return { documentCache: new LRUCache(options), errorCache: new LRUCache(options) };
}
