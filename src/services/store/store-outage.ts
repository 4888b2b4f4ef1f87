import type { Logger } from '../../lib/logger.js';

// How the store tells an outage (the database cannot be reached) from a fault of its own, and how it logs one: a
// line when the outage starts, one summary line per interval while it lasts, and one when it ends, however many
// calls fail meanwhile (a burst of reads would otherwise log thousands of identical lines).

/** Node's socket errors: the connection could not be made or was cut. */
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57P (shutdown, cannot connect now). */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;
/** node-postgres's own messages for a cut or timed-out connection, which carry no code. */
const CONNECTION_MESSAGES =
  /connection terminated|timeout exceeded when trying to connect|connection error|connection timeout|not queryable/i;

/** Whether `error` says that the database could not be reached, rather than that a statement failed. */
export function isConnectionFailure(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 3) return false;
  const { code, message, errors } = error as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof code === 'string') return CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATE.test(code);
  if (Array.isArray(errors) && errors.some((e) => isConnectionFailure(e, depth + 1))) return true;
  return typeof message === 'string' && CONNECTION_MESSAGES.test(message);
}

export interface StoreOutageLogOptions {
  logger: Logger;
  /** How often a summary line is written while the outage lasts. Default 10 s. */
  summaryIntervalMs?: number;
  now?: () => number;
}

export class StoreOutageLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #since: number | undefined;
  #lastLineAt = 0;
  #unlogged = 0;
  #total = 0;

  constructor(options: StoreOutageLogOptions) {
    this.#logger = options.logger.child({ component: 'job-store' });
    this.#intervalMs = options.summaryIntervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get down(): boolean {
    return this.#since !== undefined;
  }

  failed(error: unknown): void {
    const now = this.#now();
    this.#total++;
    if (this.#since === undefined) {
      this.#since = now;
      this.#lastLineAt = now;
      this.#unlogged = 0;
      this.#logger.error({ err: error }, 'job store unavailable; answering STORE_UNAVAILABLE until it is back');
      return;
    }
    this.#unlogged++;
    if (now - this.#lastLineAt < this.#intervalMs) return;
    this.#logger.error(
      { failures: this.#unlogged, downForMs: now - this.#since, reason: describe(error) },
      'job store still unavailable',
    );
    this.#lastLineAt = now;
    this.#unlogged = 0;
  }

  succeeded(): void {
    if (this.#since === undefined) return;
    const now = this.#now();
    this.#logger.info({ failures: this.#total, downForMs: now - this.#since }, 'job store available again');
    this.#since = undefined;
    this.#total = 0;
    this.#unlogged = 0;
  }
}

function describe(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : typeof message === 'string' ? message : 'unknown';
}
