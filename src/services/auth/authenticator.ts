import { ERROR_CODES, ErrorCode, GatewayError } from '../../domain/errors.js';
import { ANONYMOUS_NAME, ApiKeyRegistry } from './api-keys.js';
import { JwtVerifier } from './jwt.js';

// Who is calling. Free of GraphQL: the transport hands over the Authorization value (HTTP/SSE header, or graphql-ws
// connectionParams.authorization) and gets a Caller, or a GatewayError the error masker turns into a GraphQL error.

export type AuthMode = 'none' | 'apikey' | 'jwt';

export interface Caller {
  /** The owner of every job this caller submits: the API key's name, the JWT's `sub`, or `anonymous`. */
  name: string;
  /** How the caller was authenticated; `none` only for the anonymous caller of AUTH_MODE=none, whatever its name. */
  authenticatedBy: AuthMode;
}

export interface AuthConfig {
  mode: AuthMode;
  apiKeys?: string | undefined;
  apiKeysFile?: string | undefined;
  jwt?: {
    jwksUrl?: string | undefined;
    secret?: string | undefined;
    issuer?: string | undefined;
    audience?: string[] | undefined;
  };
}

export interface Authenticator {
  readonly mode: AuthMode;
  /** The caller for an Authorization value (`Bearer <credential>`; graphql-ws may omit `Bearer `). */
  authenticate(authorization: string | null | undefined): Promise<Caller>;
  /**
   * The same answer as `authenticate`, at once, for the modes that need no I/O (none, apikey); absent for jwt, whose
   * keys may have to be fetched. The read cache answers a hit without a promise through it.
   */
  authenticateSync?(authorization: string | null | undefined): Caller;
  /** A caller's own MAX_CREDITS_PER_DAY, set with its API key in the keys file; undefined: the gateway's. */
  maxCreditsPerDayOf?(owner: string): number | undefined;
  close(): void;
}

export const ANONYMOUS_CALLER: Caller = Object.freeze({ name: ANONYMOUS_NAME, authenticatedBy: 'none' as const });

export interface AuthenticatorOptions {
  /** Told about failures and key reloads; never given a credential. */
  log?: (level: 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>) => void;
  apiKeysWatchIntervalMs?: number;
}

export class UnauthenticatedError extends GatewayError {
  override name = 'UnauthenticatedError';
  constructor(message = 'Missing or invalid credentials.') {
    super(ErrorCode.UNAUTHENTICATED, message, {
      http: { status: ERROR_CODES.UNAUTHENTICATED.httpStatus, headers: { 'WWW-Authenticate': 'Bearer' } },
    });
  }
}

export class ForbiddenError extends GatewayError {
  override name = 'ForbiddenError';
  constructor(message: string) {
    super(ErrorCode.FORBIDDEN, message, { http: { status: ERROR_CODES.FORBIDDEN.httpStatus } });
  }
}

/** The credential inside an Authorization value; `Bearer ` is required over HTTP and optional over graphql-ws. */
function bearerCredential(authorization: string | null | undefined, requirePrefix: boolean): string | null {
  if (typeof authorization !== 'string') return null;
  const value = authorization.trim();
  const match = /^Bearer\s+(\S+)$/i.exec(value);
  if (match) return match[1]!;
  if (requirePrefix || /\s/.test(value) || value.length === 0) return null;
  return value;
}

export function createAuthenticator(config: AuthConfig, options: AuthenticatorOptions = {}): Authenticator {
  const log = options.log ?? (() => undefined);
  switch (config.mode) {
    case 'none':
      return {
        mode: 'none',
        authenticate: async () => ANONYMOUS_CALLER,
        authenticateSync: () => ANONYMOUS_CALLER,
        close: () => undefined,
      };
    case 'apikey': {
      const registry = new ApiKeyRegistry({
        inline: config.apiKeys,
        file: config.apiKeysFile,
        watchIntervalMs: options.apiKeysWatchIntervalMs,
        onReload: (r) =>
          r.ok
            ? log('info', 'API keys reloaded', { count: r.count })
            : log('error', 'API key file not reloaded; keeping the previous keys', { reason: r.error.message }),
      });
      const authenticateSync = (authorization: string | null | undefined): Caller => {
        const credential = bearerCredential(authorization, true);
        if (!credential) throw new UnauthenticatedError();
        const name = registry.match(credential);
        if (!name) {
          log('warn', 'refused an unknown API key');
          throw new UnauthenticatedError();
        }
        return { name, authenticatedBy: 'apikey' };
      };
      return {
        mode: 'apikey',
        authenticate: async (authorization) => authenticateSync(authorization),
        authenticateSync,
        maxCreditsPerDayOf: (owner) => registry.maxCreditsPerDayOf(owner),
        close: () => registry.close(),
      };
    }
    case 'jwt': {
      const verifier = new JwtVerifier(config.jwt ?? {});
      return {
        mode: 'jwt',
        async authenticate(authorization) {
          const credential = bearerCredential(authorization, true);
          if (!credential) throw new UnauthenticatedError();
          const outcome = await verifier.verify(credential);
          if (!outcome.ok) {
            log('warn', 'refused a JWT', { reason: outcome.reason });
            if (outcome.noSubject) throw new ForbiddenError('The token names no caller (sub).');
            throw new UnauthenticatedError();
          }
          // Refused rather than renamed: a changed owner would hide the caller's jobs from it should the name
          // ever be freed, and the token's issuer can give the user a subject of its own.
          if (outcome.subject === ANONYMOUS_NAME) {
            log('warn', 'refused a JWT whose sub is reserved', { sub: ANONYMOUS_NAME });
            throw new ForbiddenError(
              `The token's sub "${ANONYMOUS_NAME}" is reserved for the caller of AUTH_MODE=none.`,
            );
          }
          return { name: outcome.subject, authenticatedBy: 'jwt' };
        },
        close: () => undefined,
      };
    }
  }
}

/** The Authorization value a graphql-ws client sent in connectionParams, with or without `Bearer `. */
export function authorizationFromConnectionParams(params: unknown): string | null {
  if (!params || typeof params !== 'object') return null;
  const raw = (params as Record<string, unknown>).authorization ?? (params as Record<string, unknown>).Authorization;
  const credential = bearerCredential(typeof raw === 'string' ? raw : null, false);
  return credential ? `Bearer ${credential}` : null;
}

/** Whether HOST only accepts connections from this machine: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  const octets = v4.split('.');
  return octets.length === 4 && octets[0] === '127' && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
}
