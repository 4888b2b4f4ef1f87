import { createHmac, timingSafeEqual } from 'node:crypto';

// Claid signs a webhook with an HMAC-SHA256 of the raw body. Its exact header format is second-hand
// (claid-facts.md), so the common forms are all accepted: hex or base64 (standard or URL-safe), with or without a
// `sha256=` prefix. Only the decoded 32 bytes are compared, in constant time.

const DIGEST_BYTES = 32;

/** The HMAC-SHA256 of `body` under `secret`, as Claid is said to send it (hex). */
export function webhookSignature(body: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

function decodeSignature(value: string): Buffer | undefined {
  const bare = value.trim().replace(/^sha256=/i, '');
  if (/^[0-9a-f]{64}$/i.test(bare)) return Buffer.from(bare, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(bare)) return undefined;
  const bytes = Buffer.from(bare.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === DIGEST_BYTES ? bytes : undefined;
}

/**
 * Whether `header` (the signature header's value, possibly several joined by commas) signs `body` under `secret`.
 * False for a missing or malformed header.
 */
export function verifyWebhookSignature(body: Buffer, header: string | undefined, secret: string): boolean {
  if (!header) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  let valid = false;
  // Every candidate is compared, so the time taken does not say which one matched.
  for (const candidate of header.split(',')) {
    const given = decodeSignature(candidate);
    if (given && timingSafeEqual(given, expected)) valid = true;
  }
  return valid;
}
