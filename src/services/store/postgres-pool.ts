import pg from 'pg';
import { StoreUnavailableError } from '../../domain/errors.js';
import type { Logger } from '../../lib/logger.js';
import { isConnectionFailure, StoreOutageLog } from './store-outage.js';

// The PostgreSQL store's connections: one pool per store, and errors that never carry the connection password.

export interface PostgresPoolOptions {
  /** `postgres://user:password@host:port/database?…`; never echoed in errors. */
  connectionString: string;
  /** Connections in this instance's pool. Default 10. */
  maxConnections?: number | undefined;
  /** How long to wait for a connection before a call fails. Default 5000 ms. */
  connectionTimeoutMs?: number | undefined;
  /** Where an outage is logged (once when it starts, then summarised); without one it is not logged here. */
  logger?: Logger | undefined;
}

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The password in a postgres URL, raw and decoded, so an error that somehow carries it can be scrubbed. */
function secretsOf(connectionString: string): string[] {
  const raw = /^[a-z][a-z0-9+.-]*:\/\/[^/@?#:]*:([^/@?#]*)@/i.exec(connectionString)?.[1];
  const fromQuery = /[?&]password=([^&#]*)/i.exec(connectionString)?.[1];
  const secrets = new Set<string>();
  for (const value of [raw, fromQuery]) {
    if (!value) continue;
    secrets.add(value);
    try {
      secrets.add(decodeURIComponent(value));
    } catch {
      // Malformed escapes: the raw text is still scrubbed.
    }
  }
  return [...secrets].filter((s) => s.length > 0);
}

export class PostgresPool {
  readonly #pool: pg.Pool;
  readonly #secrets: string[];
  readonly #outage: StoreOutageLog | undefined;

  constructor(options: PostgresPoolOptions) {
    this.#secrets = secretsOf(options.connectionString);
    this.#outage = options.logger ? new StoreOutageLog({ logger: options.logger }) : undefined;
    // pg parses the URL only when it first connects; parse it now so a bad one fails here, with a message of our own.
    try {
      new pg.Client({ connectionString: options.connectionString });
    } catch {
      throw new Error(
        'postgres-job-store: the connection URL cannot be parsed (postgres://user:password@host:port/database)',
      );
    }
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
      application_name: 'ai-edit-gateway',
    });
    // An idle connection that breaks (database restart, network) must not crash the process; the next call that
    // needs a connection opens a new one or fails with its own error.
    this.#pool.on('error', () => {});
  }

  /**
   * Rethrows `error` with the connection password removed from its message and stack, should either carry it; a
   * database that cannot be reached becomes STORE_UNAVAILABLE, which a client can act on.
   */
  #scrub(error: unknown): never {
    this.#clean(error);
    if (!isConnectionFailure(error)) throw error;
    this.#outage?.failed(error);
    throw new StoreUnavailableError(error);
  }

  #clean(error: unknown): void {
    if (error instanceof Error && this.#secrets.length > 0) {
      const clean = (text: string): string =>
        this.#secrets.reduce((out, secret) => out.split(secret).join('*****'), text);
      if (this.#secrets.some((s) => error.message.includes(s) || (error.stack ?? '').includes(s))) {
        error.message = clean(error.message);
        if (error.stack) error.stack = clean(error.stack);
      }
    }
  }

  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.#pool.query<R>(sql, params);
      this.#outage?.succeeded();
      return result;
    } catch (error) {
      this.#scrub(error);
    }
  }

  /** Runs `work` in one transaction on one connection; rolls back when it throws. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      this.#scrub(error);
    }
    let broken = false;
    // A connection that breaks while this transaction holds it is reported as an 'error' event on the client, which
    // pg-pool listens for only while the client is idle: unheard, it would end the process. The statement in flight
    // (or the next one) fails with it, and the connection is not handed out again.
    const lost = () => {
      broken = true;
    };
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      const value = await work(client);
      await client.query('COMMIT');
      this.#outage?.succeeded();
      return value;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      this.#scrub(error);
    } finally {
      client.off('error', lost);
      // A connection whose ROLLBACK failed is in an unknown state: destroy it rather than hand it out again.
      client.release(broken);
    }
  }

  end(): Promise<void> {
    return this.#pool.end();
  }
}
