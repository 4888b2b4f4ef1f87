import { createHash } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json.js';
import type { AiEditRequest } from './job.js';

/** A stable fingerprint of a request, so that an idempotency key reused with a different request is noticed. */
export function hashAiEditRequest(request: AiEditRequest): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}
