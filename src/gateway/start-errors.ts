import { StoreUnavailableError } from '../domain/errors.js';

// A start that fails ends with one line an operator can act on: what went wrong and which variable to change.

/** A failed start whose message is that one line; `variable` is the setting to change. */
export class StartError extends Error {
  override name = 'StartError';
  constructor(
    readonly variable: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What a listen on `port` failed with, as a StartError naming `variable` when the cause is the port itself. */
export function listenError(variable: string, port: number, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new StartError(variable, `${variable} ${port} is in use: set ${variable}`, { cause: error });
  if (code === 'EACCES')
    return new StartError(variable, `${variable} ${port} needs privileges this process lacks: set ${variable}`, {
      cause: error,
    });
  if (code === 'EADDRNOTAVAIL')
    return new StartError('HOST', `HOST is not an address of this machine (${variable} ${port}): set HOST`, {
      cause: error,
    });
  return error instanceof Error ? error : new Error(String(error));
}

/** Wraps a failure to open a connection named by a URL variable; the URL may carry a password, so it is scrubbed. */
export function connectError(variable: string, what: string, error: unknown): StartError {
  // STORE_UNAVAILABLE speaks to clients; the operator needs what it wraps (ECONNREFUSED, a timeout, …).
  const cause = error instanceof StoreUnavailableError ? error.cause : error;
  const reason = withoutCredentials(cause instanceof Error ? cause.message : String(cause));
  // The store and Redis already name their variable in some messages; say it once.
  const message = reason.startsWith(`${variable}:`) ? reason : `${variable}: could not ${what} (${reason})`;
  return new StartError(variable, message, { cause: error });
}

/** `scheme://user:secret@host` -> `scheme://user:***@host`, wherever it appears. */
export function withoutCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@');
}

/** The one line main.ts prints for a start that failed. */
export function startFailureLine(error: unknown): string {
  if (error instanceof StartError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `could not start the gateway: ${withoutCredentials(message).split('\n')[0]}`;
}
