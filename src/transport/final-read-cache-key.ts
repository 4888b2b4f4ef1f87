import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PREFLIGHT_HEADERS } from './security/use-http-guards.js';

// The read cache's key for a request (src/transport/final-read-cache.ts): everything that can change the answer,
// cheap to hash. The cache compares the whole body with its entry's on a hit, so the key holds only a fingerprint of it.

/**
 * Request headers that can change an answer besides the caller: content negotiation and parsing (Yoga), the CSRF
 * preflight headers and the Origin/Host check (src/transport/security/use-http-guards.ts), CORS (Yoga's useCORS).
 */
export const KEYED_HEADERS: readonly string[] = [
  'host',
  'accept',
  'accept-encoding',
  'content-type',
  'origin',
  ...PREFLIGHT_HEADERS,
  'access-control-request-method',
  'access-control-request-headers',
];

/**
 * Bytes of the body's end that go into the key: a read's variables (the job's id) are there. V8 hashes a string key
 * at about a nanosecond a character, as dear as SHA-256, so the key holds a fingerprint of the body and a hit compares
 * the whole body with the entry's (`Buffer.equals`, a memcmp).
 */
const BODY_TAIL_BYTES = 64;

/**
 * Up to this length the key is itself; a longer one (a long URL or headers) is its SHA-256. V8 hashes a string longer
 * than 16,383 characters by its length alone, which would chain every such key of one length in one slot of the map.
 */
const DIRECT_KEY_MAX_CHARS = 4_096;

/** A part of the key that cannot run into the next: its length first, or `-` when absent. */
function part(value: string | string[] | undefined): string {
  if (value === undefined) return '-';
  if (typeof value === 'string') return `${value.length}:${value}`;
  const text = JSON.stringify(value);
  return `a${text.length}:${text}`;
}

/**
 * The key: caller, method, URL, every header that can change the answer, and a fingerprint of the body (its length,
 * its last bytes in latin1, one character a byte). Each part is length-prefixed, so none can be mistaken for another.
 * Two bodies with one key (the same length and end) are told apart by the entry's own body: the later one replaces
 * the other's entry, so such a pair costs hits, never a wrong answer.
 */
export function keyOf(owner: string, req: IncomingMessage, body: Buffer): string {
  const { headers } = req;
  let key = part(owner) + part(req.method) + part(req.url);
  for (const name of KEYED_HEADERS) key += part(headers[name]);
  const tailFrom = Math.max(0, body.length - BODY_TAIL_BYTES);
  key += `${body.length}:${body.toString('latin1', tailFrom)}`;
  // `#` starts no direct key (those start with the owner's length).
  return key.length <= DIRECT_KEY_MAX_CHARS ? key : `#${createHash('sha256').update(key, 'latin1').digest('base64')}`;
}
