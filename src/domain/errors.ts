// Every code a client can find in `extensions.code`, in one list: services raise GatewayErrors with the codes they
// own, the error masker (src/schema/error-masking.ts) turns those into GraphQLErrors, and the transport emits the
// codes of its own refusals from here too. The list carries what the README's error table shows.

export interface ErrorCodeEntry {
  /**
   * The HTTP status of a POST answered with this error (`accept: application/graphql-response+json`); 200 when the
   * error travels in the body of an executed operation. A WebSocket has no status: the error is that operation's.
   */
  readonly httpStatus: 200 | 400 | 401 | 403 | 413 | 503;
  /** When a client sees it, in one line. */
  readonly meaning: string;
}

export const ERROR_CODES = {
  BAD_USER_INPUT: {
    httpStatus: 200,
    meaning:
      'Invalid input; `extensions.field` names the input path (`fields`: each of several); a bad variable is 400.',
  },
  NOT_FOUND: { httpStatus: 200, meaning: 'Subscribing to a job that is unknown or not the caller’s.' },
  IDEMPOTENCY_KEY_REUSED: { httpStatus: 200, meaning: 'The same `idempotencyKey` came with a different request.' },
  UNAUTHENTICATED: {
    httpStatus: 401,
    meaning: 'Missing, unknown, revoked, expired or forged credentials (HTTP adds `WWW-Authenticate: Bearer`).',
  },
  FORBIDDEN: { httpStatus: 403, meaning: 'Genuine credentials that name no usable caller (a JWT without `sub`).' },
  RATE_LIMITED: {
    httpStatus: 200,
    meaning: 'A per-caller spend limit; `extensions.limit` names it, submits carry `retryAfterSeconds`.',
  },
  UPSTREAM_UNAUTHORIZED: { httpStatus: 200, meaning: 'Claid answered 401: the gateway’s key is wrong or missing.' },
  UPSTREAM_FORBIDDEN: { httpStatus: 200, meaning: 'Claid answered 403.' },
  UPSTREAM_PAYMENT_REQUIRED: { httpStatus: 200, meaning: 'Claid answered 402: no credits left.' },
  UPSTREAM_RATE_LIMITED: {
    httpStatus: 200,
    meaning: 'Claid answered 429; `extensions.retryAfterSeconds` says when to try again.',
  },
  UPSTREAM_VALIDATION: { httpStatus: 200, meaning: 'Claid answered 422 (or 400): it rejected the request.' },
  UPSTREAM_UNAVAILABLE: {
    httpStatus: 200,
    meaning: 'Claid answered 5xx, timed out, could not be reached, or sent a body that is not its JSON.',
  },
  UPSTREAM_OUTCOME_UNKNOWN: {
    httpStatus: 200,
    meaning:
      'A submit reached Claid but its answer was lost: it may have been charged; the job ends ERROR, never resent.',
  },
  STORE_UNAVAILABLE: {
    httpStatus: 503,
    meaning: 'The job store cannot be reached; retry after `extensions.retryAfterSeconds` (HTTP adds `Retry-After`).',
  },
  INTERNAL_SERVER_ERROR: {
    httpStatus: 200,
    meaning: 'An unexpected failure, masked as `Unexpected error.`; `extensions.correlationId` finds it in the log.',
  },
  QUERY_TOO_COMPLEX: {
    httpStatus: 400,
    meaning: 'The document is over a limit (length, depth, cost, tokens, aliases, directives, `__typename`).',
  },
  CSRF_PREVENTION: {
    httpStatus: 403,
    meaning:
      'A request a browser could send cross-site: send JSON, or a preflight header such as `x-graphql-yoga-csrf`.',
  },
  ORIGIN_NOT_ALLOWED: { httpStatus: 403, meaning: 'A browser origin outside `CORS_ORIGINS`.' },
  INTROSPECTION_DISABLED: {
    httpStatus: 200,
    meaning: 'Introspection is off (`INTROSPECTION=off`), or open to authenticated callers only.',
  },
  PERSISTED_QUERY_NOT_FOUND: { httpStatus: 400, meaning: 'No trusted document has the hash that was sent.' },
  PERSISTED_QUERY_ONLY: {
    httpStatus: 400,
    meaning: '`PERSISTED_OPERATIONS=only` runs trusted documents alone; send `documentId` instead of a query.',
  },
  REQUEST_ENTITY_TOO_LARGE: { httpStatus: 413, meaning: 'The request body is over `MAX_BODY_BYTES` (sent by Yoga).' },
  BAD_REQUEST: {
    httpStatus: 400,
    meaning:
      "A malformed request (no query, bad JSON, a batch, a persisted-query hash not its query's); 405: a mutation over GET.",
  },
  GRAPHQL_PARSE_FAILED: { httpStatus: 400, meaning: 'The document is not valid GraphQL syntax.' },
  GRAPHQL_VALIDATION_FAILED: { httpStatus: 400, meaning: 'The document does not validate against the schema.' },
} as const satisfies Record<string, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Each code by name, for the places that emit one: `extensions: { code: ErrorCode.QUERY_TOO_COMPLEX }`. */
export const ErrorCode = Object.freeze(Object.fromEntries(Object.keys(ERROR_CODES).map((code) => [code, code]))) as {
  readonly [Code in ErrorCode]: Code;
};

/** Codes a service raises as a GatewayError; the rest belong to the transport, the masker and Yoga. */
export type GatewayErrorCode = Exclude<
  ErrorCode,
  | 'INTERNAL_SERVER_ERROR'
  | 'QUERY_TOO_COMPLEX'
  | 'CSRF_PREVENTION'
  | 'ORIGIN_NOT_ALLOWED'
  | 'INTROSPECTION_DISABLED'
  | `PERSISTED_QUERY_${string}`
  | 'REQUEST_ENTITY_TOO_LARGE'
  | 'BAD_REQUEST'
  | `GRAPHQL_${string}`
>;

export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** One invalid input field: its GraphQL input path (`input.options.prompt`) and what is wrong with it. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * Invalid input. `extensions.field` names the (first) offending input path; when several fields are wrong,
 * `extensions.fields` lists each with its own message, so that a form can mark them all at once.
 */
export class BadUserInputError extends GatewayError {
  override name = 'BadUserInputError';
  readonly fields: readonly FieldProblem[];
  constructor(
    message: string,
    readonly field: string,
    fields: readonly FieldProblem[] = [{ field, message }],
  ) {
    super('BAD_USER_INPUT', message, fields.length > 1 ? { field, fields } : { field });
    this.fields = fields;
  }

  /** One error for every problem found, the first named in `field`; the message joins them all. */
  static forFields(problems: readonly [FieldProblem, ...FieldProblem[]]): BadUserInputError {
    return new BadUserInputError(problems.map((p) => p.message).join('; '), problems[0].field, problems);
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
    code: Extract<GatewayErrorCode, `UPSTREAM_${string}`>,
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

/** Seconds a client is asked to wait before retrying while the store is away. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** The job store could not be reached (connection refused, cut, timed out): a client may simply retry. */
export class StoreUnavailableError extends GatewayError {
  override name = 'StoreUnavailableError';
  constructor(override readonly cause: unknown) {
    super('STORE_UNAVAILABLE', 'The job store is unavailable; try again shortly.', {
      retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
    });
  }
}

export const isStoreUnavailable = (error: unknown): error is StoreUnavailableError =>
  error instanceof GatewayError && error.code === 'STORE_UNAVAILABLE';
