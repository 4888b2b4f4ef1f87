// Errors a client must act on. Services stay free of GraphQL: the transport turns a GatewayError into a
// GraphQLError with `extensions.code` (app.ts), and masks everything else.

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'UPSTREAM_UNAUTHORIZED'
  | 'UPSTREAM_FORBIDDEN'
  | 'UPSTREAM_PAYMENT_REQUIRED'
  | 'UPSTREAM_RATE_LIMITED'
  | 'UPSTREAM_VALIDATION'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED';

export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class BadUserInputError extends GatewayError {
  override name = 'BadUserInputError';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super('BAD_USER_INPUT', message, { field });
  }
}

/** What the gateway learned from a failed upstream call; public, so it never holds the API key. */
export interface UpstreamErrorInfo {
  httpStatus: number | null;
  errorCode: string | null;
  errorType: string | null;
  errorMessage: string | null;
  requestId: string | null;
}

export class UpstreamError extends GatewayError {
  override name = 'UpstreamError';
  constructor(
    code: Extract<ErrorCode, `UPSTREAM_${string}`>,
    message: string,
    readonly upstream: UpstreamErrorInfo,
    readonly retryAfterSeconds?: number,
  ) {
    super(code, message, {
      upstream,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
  }
}
