import { UpstreamError, type UpstreamErrorInfo } from '../../domain/errors.js';

// Claid's failures, turned into the gateway's UpstreamError. Claid answers errors in three shapes (claid-facts.md):
// flat HttpErrorDetails, the same wrapped in `detail`, and FastAPI's `{"detail": [{loc, msg, type}]}`; a proxy in
// between may answer with HTML or nothing at all. Nothing here ever sees the API key: callers pass only the
// response's status, headers and body.

export type ClaidOperation = 'submit' | 'read';

/** Response headers as node:http and undici give them. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** What Claid said about a failure, in whichever shape it said it. */
export interface ClaidErrorDetails {
  errorCode: string | null;
  errorType: string | null;
  errorMessage: string | null;
}

/** Longest upstream message copied into an error; a misbehaving upstream must not blow up our logs or responses. */
const MAX_MESSAGE_LENGTH = 1000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const asText = (v: unknown): string | null => {
  if (typeof v === 'string') return v.length > MAX_MESSAGE_LENGTH ? `${v.slice(0, MAX_MESSAGE_LENGTH)}…` : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
};

function fromHttpErrorDetails(v: Record<string, unknown>): ClaidErrorDetails | null {
  const details = {
    errorCode: asText(v.error_code),
    errorType: asText(v.error_type),
    errorMessage: asText(v.error_message),
  };
  return (details.errorCode ?? details.errorType ?? details.errorMessage) !== null ? details : null;
}

/**
 * Reads Claid's error body in any of its three shapes. Returns null for an empty body, a body that is not JSON, or
 * JSON in none of the known shapes.
 */
export function parseClaidErrorBody(text: string): ClaidErrorDetails | null {
  if (text.trim() === '') return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(json)) return null;

  const { detail } = json;
  if (Array.isArray(detail)) {
    const messages = detail
      .map((item) => {
        if (!isRecord(item)) return asText(item);
        const msg = asText(item.msg);
        const loc = Array.isArray(item.loc) ? item.loc.map((p) => String(p)).join('.') : null;
        return msg && loc ? `${loc}: ${msg}` : msg;
      })
      .filter((m): m is string => m !== null && m !== '');
    const first = detail.find(isRecord);
    return {
      errorCode: first ? asText(first.type) : null,
      errorType: 'validation',
      errorMessage: messages.length > 0 ? asText(messages.join('; ')) : null,
    };
  }
  if (isRecord(detail)) return fromHttpErrorDetails(detail);
  if (typeof detail === 'string') return { errorCode: null, errorType: null, errorMessage: asText(detail) };
  return fromHttpErrorDetails(json);
}

function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The first integer in a header value, e.g. `1` from `RateLimit-Reset: 1` or `4` from `RateLimit-Limit: 4, 120;w=60`.
 * Negative values are kept (Claid sends `RateLimit-Remaining: -1` when over the limit).
 */
export function firstInteger(value: string | string[] | undefined): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return null;
  const match = /-?\d+/.exec(text);
  if (!match) return null;
  const n = Number.parseInt(match[0], 10);
  return Number.isSafeInteger(n) ? n : null;
}

export interface RateLimitObservation {
  remaining: number | null;
  resetSeconds: number | null;
  /** The window Remaining and Reset speak of, when RateLimit-Limit names it: its width (s) and limit. */
  window?: { seconds: number; limit: number };
}

export function parseRateLimitHeaders(headers: ResponseHeaders): RateLimitObservation {
  const reset = firstInteger(headers['ratelimit-reset']);
  const window = bindingWindow(headerValue(headers, 'ratelimit-limit'));
  return {
    remaining: firstInteger(headers['ratelimit-remaining']),
    resetSeconds: reset === null ? null : Math.max(0, reset),
    ...(window ? { window } : {}),
  };
}

/**
 * Which window `RateLimit-Limit` says is binding: its first value is that window's limit, and the policies after it
 * (`120;w=60`, `4;w=1`) say each window's width. `4, 120;w=60, 4;w=1` is the 1-second window of 4. Undefined when
 * the header is absent, or no policy (or more than one) matches.
 */
export function bindingWindow(header: string | undefined): { seconds: number; limit: number } | undefined {
  if (!header) return undefined;
  const [first, ...policies] = header.split(',').map((part) => part.trim());
  const limit = firstInteger(first);
  if (limit === null) return undefined;
  const own = /;\s*w=(\d+)/.exec(first ?? '');
  if (own) return { seconds: Number(own[1]), limit };
  const widths = policies.flatMap((policy) => {
    const match = /^(\d+)\s*;\s*w=(\d+)/.exec(policy);
    return match && Number(match[1]) === limit ? [Number(match[2])] : [];
  });
  return widths.length === 1 ? { seconds: widths[0]!, limit } : undefined;
}

/**
 * Seconds to wait before trying again: `Retry-After` (seconds or an HTTP date) first, then `RateLimit-Reset`.
 * Undefined when the upstream gave no hint.
 */
export function parseRetryAfterSeconds(headers: ResponseHeaders, now: number = Date.now()): number | undefined {
  const retryAfter = headerValue(headers, 'retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return Number.parseInt(retryAfter, 10);
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, Math.ceil((at - now) / 1000));
  }
  const reset = firstInteger(headers['ratelimit-reset']);
  return reset === null ? undefined : Math.max(0, reset);
}

export function requestIdOf(headers: ResponseHeaders): string | null {
  return headerValue(headers, 'x-request-id') ?? null;
}

const emptyInfo = (httpStatus: number | null, requestId: string | null): UpstreamErrorInfo => ({
  httpStatus,
  errorCode: null,
  errorType: null,
  errorMessage: null,
  requestId,
});

export interface ErrorResponse {
  operation: ClaidOperation;
  /** The task read, for messages about a status read. */
  upstreamId?: number;
  status: number;
  headers: ResponseHeaders;
  bodyText: string;
}

/**
 * Maps a non-2xx answer to the gateway's error codes (contract.md):
 * 401 UNAUTHORIZED, 402 PAYMENT_REQUIRED, 403 FORBIDDEN, 400/422 VALIDATION, 429 RATE_LIMITED, everything else
 * UNAVAILABLE. A 404 on a status read is UNAVAILABLE (with httpStatus 404), not a user error: the gateway only reads
 * tasks it created, so Claid not knowing one is an upstream fault, and the poller should keep trying.
 */
export function upstreamErrorFromResponse(response: ErrorResponse): UpstreamError {
  const { status, headers, bodyText, operation } = response;
  const details = parseClaidErrorBody(bodyText);
  const info: UpstreamErrorInfo = {
    ...emptyInfo(status, requestIdOf(headers)),
    ...(details ?? {}),
  };
  const said = info.errorMessage ?? describeBody(headers, bodyText);
  const retryAfterSeconds = parseRetryAfterSeconds(headers);

  switch (status) {
    case 401:
      return new UpstreamError('UPSTREAM_UNAUTHORIZED', `Claid rejected the gateway's API key: ${said}`, info);
    case 402:
      return new UpstreamError(
        'UPSTREAM_PAYMENT_REQUIRED',
        `Claid refused the request, no credits left: ${said}`,
        info,
      );
    case 403:
      return new UpstreamError(
        'UPSTREAM_FORBIDDEN',
        `Claid refused the request, not enough permissions: ${said}`,
        info,
      );
    case 400:
    case 422:
      return new UpstreamError('UPSTREAM_VALIDATION', `Claid rejected the request: ${said}`, info);
    case 429:
      return new UpstreamError(
        'UPSTREAM_RATE_LIMITED',
        `Claid's rate limit was exceeded: ${said}` +
          (retryAfterSeconds === undefined ? '' : ` (retry after ${retryAfterSeconds} s)`),
        info,
        retryAfterSeconds,
      );
    case 404:
      if (operation === 'read') {
        const task = response.upstreamId === undefined ? 'the task' : `task ${response.upstreamId}`;
        return new UpstreamError('UPSTREAM_UNAVAILABLE', `Claid does not know ${task} (HTTP 404): ${said}`, info);
      }
      break;
    default:
      break;
  }
  // Retry-After on a 503 is a useful hint too; RateLimit-Reset alone is not (it is on every answer).
  const unavailableRetryAfter = headerValue(headers, 'retry-after') ? retryAfterSeconds : undefined;
  return new UpstreamError(
    'UPSTREAM_UNAVAILABLE',
    `Claid is unavailable (HTTP ${status}): ${said}`,
    info,
    unavailableRetryAfter,
  );
}

function describeBody(headers: ResponseHeaders, bodyText: string): string {
  if (bodyText.trim() === '') return 'empty body';
  const contentType = headerValue(headers, 'content-type')?.split(';')[0]?.trim();
  return `a body that is not Claid's JSON${contentType ? ` (${contentType})` : ''}`;
}

/** A 2xx answer whose body is not Claid's JSON (a proxy page, garbage, an unknown status). */
export function protocolError(
  detail: string,
  httpStatus: number | null = null,
  requestId: string | null = null,
): UpstreamError {
  const where = httpStatus === null ? '' : ` (HTTP ${httpStatus})`;
  return new UpstreamError(
    'UPSTREAM_UNAVAILABLE',
    `Claid answered with a body that is not Claid's JSON${where}: ${detail}`,
    emptyInfo(httpStatus, requestId),
  );
}

export function timeoutError(timeoutMs: number): UpstreamError {
  return new UpstreamError(
    'UPSTREAM_UNAVAILABLE',
    `Claid did not answer within ${timeoutMs} ms`,
    emptyInfo(null, null),
  );
}

/** A failure before any answer arrived; `reason` is an error code such as ECONNREFUSED, never the request itself. */
export function connectionError(reason: string): UpstreamError {
  return new UpstreamError('UPSTREAM_UNAVAILABLE', `Could not reach Claid: ${reason}`, emptyInfo(null, null));
}
