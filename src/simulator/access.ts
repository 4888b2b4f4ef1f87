import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { FailureInjector } from './control.js';
import { errorDetails, SIMULATOR_ERROR_CODES, sendInjected, sendJson } from './http-replies.js';
import type { FixedWindowRateLimiter } from './rate-limit.js';

// What stands before an API call: the API key, the rate limit and the failures a test injected.

export interface Gate {
  authorized(req: IncomingMessage): 'ok' | 'missing' | 'invalid';
  /** Auth and rate limit for an API call; answers and returns false when the request must stop here. */
  admit(req: IncomingMessage, res: ServerResponse, endpoint: 'submit' | 'read'): boolean;
  /** Applies an injected failure or hang; true when the request was taken over by it. */
  inject(endpoint: 'submit' | 'read', res: ServerResponse): boolean;
}

export function createGate(deps: {
  apiKey: string;
  limiter: FixedWindowRateLimiter;
  injector: FailureInjector;
  logger: Logger;
  /** Called with `<endpoint>:<window>` for every 429 the account's limit answers. */
  onRateLimited?: (key: string) => void;
}): Gate {
  const expectedAuth = Buffer.from(deps.apiKey);

  function authorized(req: IncomingMessage): 'ok' | 'missing' | 'invalid' {
    const header = req.headers.authorization;
    if (!header) return 'missing';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
    if (!match) return 'invalid';
    const given = Buffer.from(match[1]!);
    return given.length === expectedAuth.length && timingSafeEqual(given, expectedAuth) ? 'ok' : 'invalid';
  }

  function admit(req: IncomingMessage, res: ServerResponse, endpoint: 'submit' | 'read'): boolean {
    const auth = authorized(req);
    if (auth !== 'ok') {
      sendJson(
        res,
        401,
        errorDetails(
          SIMULATOR_ERROR_CODES.auth,
          'auth',
          auth === 'missing'
            ? 'Authorization is required: send "Authorization: Bearer <API key>".'
            : 'Invalid API key.',
        ),
        { 'WWW-Authenticate': 'Bearer' },
      );
      return false;
    }
    const decision = deps.limiter.take();
    for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
    if (!decision.allowed) {
      deps.onRateLimited?.(`${endpoint}:${decision.refusedBy}`);
      sendJson(res, 429, {
        detail: errorDetails(SIMULATOR_ERROR_CODES.rateLimited, 'general', 'Too Many Requests. Rate limit exceeded.'),
      });
      return false;
    }
    return true;
  }

  function inject(endpoint: 'submit' | 'read', res: ServerResponse): boolean {
    const injection = deps.injector.take(endpoint);
    if (!injection) return false;
    if (injection.kind === 'hang') {
      deps.logger.debug({ endpoint }, 'simulator: hanging request');
      return true;
    }
    sendInjected(res, injection);
    return true;
  }

  return { authorized, admit, inject };
}
