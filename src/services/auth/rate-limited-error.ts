import { GatewayError } from '../../domain/errors.js';

/** RATE_LIMITED: a per-caller limit, named in `extensions.limit`, with `retryAfterSeconds` where it is known. */
export class RateLimitedError extends GatewayError {
  override name = 'RateLimitedError';
  constructor(message: string, limit: string, retryAfterSeconds?: number, extra: Record<string, unknown> = {}) {
    super('RATE_LIMITED', message, {
      limit,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      ...extra,
    });
  }
}
