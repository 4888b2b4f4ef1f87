import { UpstreamError } from '../../domain/errors.js';
import type { UpstreamTaskState } from '../../domain/job.js';
import { type ClaidOperation, connectionError, protocolError, timeoutError } from './claid-errors.js';
import { fromClaidTask } from './claid-mapping.js';

// How the Claid client judges one HTTP attempt: what failed, whether it may be sent again, and how long the upstream
// asked us to wait. A submit is sent again only when it certainly never left this process.

/** Longest wait honoured from a 429's RateLimit-Reset / Retry-After before retrying a read. */
const RATE_LIMIT_WAIT_CAP_MS = 30_000;

/** Errors raised while connecting, before a single byte of the request could reach the upstream. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

const notSent = new WeakSet<object>();

/** Marks the error of a submit that certainly never left this process: sending it again creates no second task. */
export function markNotSent<E extends object>(error: E): E {
  notSent.add(error);
  return error;
}

/** True for a submit's error that markNotSent marked (a refused connection, a closed client or budget). */
export function wasCertainlyNotSent(error: unknown): boolean {
  return typeof error === 'object' && error !== null && notSent.has(error);
}

/** One failed attempt and what may be done about it; unwrapped before anything leaves the client. */
export class AttemptFailure extends Error {
  constructor(
    readonly error: UpstreamError,
    readonly retryable: boolean,
    /** How long the upstream asked us to wait (429), if it said. */
    readonly waitMs?: number,
  ) {
    super(error.message);
  }
}

/** The error codes of a network failure, including those nested in an AggregateError or a `cause`. */
function errorCodes(err: unknown, depth = 0): string[] {
  if (typeof err !== 'object' || err === null || depth > 3) return [];
  const e = err as { code?: unknown; errors?: unknown; cause?: unknown };
  const own = typeof e.code === 'string' ? [e.code] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => errorCodes(x, depth + 1)) : [];
  return [...own, ...nested, ...errorCodes(e.cause, depth + 1)];
}

/** A request that got no answer: a timeout, or a connection error that may or may not have sent it. */
export function networkFailure(
  err: unknown,
  kind: ClaidOperation,
  timedOut: boolean,
  timeoutMs: number,
): { failure: AttemptFailure; reason: string } {
  const codes = errorCodes(err);
  if (timedOut || codes.some((c) => TIMEOUT_CODES.has(c))) {
    return { failure: new AttemptFailure(timeoutError(timeoutMs), kind === 'read'), reason: 'timeout' };
  }
  const neverLeft = codes.some((c) => NOT_SENT_CODES.has(c));
  const reason = codes[0] ?? (err instanceof Error ? err.name : 'unknown error');
  const error = connectionError(reason);
  if (neverLeft) markNotSent(error);
  return { failure: new AttemptFailure(error, kind === 'read' || neverLeft), reason };
}

/** Reads a 2xx answer: Claid's `{"data": task}` envelope, or UPSTREAM_UNAVAILABLE ("not Claid's JSON"). */
export function parseTaskAnswer(httpStatus: number, requestId: string | null, text: string): UpstreamTaskState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw protocolError(text.trim() === '' ? 'empty body' : 'not JSON', httpStatus, requestId);
  }
  // A plain look rather than claidEnvelopeSchema: this runs on every answer, and the task inside is checked next.
  const data = json !== null && typeof json === 'object' ? (json as { data?: unknown }).data : undefined;
  if (data === undefined) throw protocolError('no `data` object', httpStatus, requestId);
  return fromClaidTask(data, { httpStatus, requestId });
}

/** A non-2xx answer: a read is sent again after a 429 (as long as asked), a 408 or a 5xx; a submit never. */
export function classifyResponseError(kind: ClaidOperation, error: UpstreamError): AttemptFailure {
  // The upstream answered, so a submit may have been taken: never send it again.
  if (kind === 'submit') return new AttemptFailure(error, false);
  const status = error.upstream.httpStatus ?? 0;
  if (status === 429) {
    const waitMs =
      error.retryAfterSeconds === undefined
        ? undefined
        : Math.min(error.retryAfterSeconds * 1000, RATE_LIMIT_WAIT_CAP_MS);
    return new AttemptFailure(error, true, waitMs);
  }
  // 404 is not retried here: the poller's next round asks again, at its own pace.
  return new AttemptFailure(error, status >= 500 || status === 408);
}

/** Belt and braces: an upstream that echoes the key must not get it into our errors. */
export function keyScrubber(apiKey: string): (error: UpstreamError) => UpstreamError {
  const redact = (text: string | null): string | null =>
    text === null || apiKey === '' ? text : text.split(apiKey).join('[redacted]');
  return function scrubbed(error: UpstreamError): UpstreamError {
    const { upstream } = error;
    const mentions = [error.message, upstream.errorCode, upstream.errorType, upstream.errorMessage, upstream.requestId];
    if (apiKey === '' || !mentions.some((m) => m?.includes(apiKey))) return error;
    return new UpstreamError(
      error.code as ConstructorParameters<typeof UpstreamError>[0],
      redact(error.message) ?? '',
      {
        httpStatus: upstream.httpStatus,
        errorCode: redact(upstream.errorCode),
        errorType: redact(upstream.errorType),
        errorMessage: redact(upstream.errorMessage),
        requestId: redact(upstream.requestId),
      },
      error.retryAfterSeconds,
    );
  };
}
