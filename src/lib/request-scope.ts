import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

// The request id rides on the async context rather than on every call's arguments, so that a log line written deep in
// a service, or an error masked by Yoga (whose masker is given no context), still names the request it served.

const scope = new AsyncLocalStorage<string>();

/** What an incoming x-request-id may be: short, and nothing a log line or a header could be tricked by. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's x-request-id when it is safe to echo and log, else a fresh one. */
export function requestIdFrom(header: string | string[] | null | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && value !== null && SAFE_REQUEST_ID.test(value) ? value : randomUUID();
}

/** Runs `fn` (and whatever it starts) as the work of request `id`. */
export function runInRequest<T>(id: string, fn: () => T): T {
  return scope.run(id, fn);
}

/** The id of the request being served, if any (background work such as the poller has none). */
export function currentRequestId(): string | undefined {
  return scope.getStore();
}
