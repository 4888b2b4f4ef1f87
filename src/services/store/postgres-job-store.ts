import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  type AiEditRequest,
  type AiEditResult,
  FINAL_STATUSES,
  isFinalStatus,
  isForwardTransition,
  type Job,
  type JobStatus,
  type UpstreamTaskState,
} from '../../domain/job.js';
import {
  canonicalJson,
  errorsFromStored,
  errorsJson,
  historyFromStored,
  historyJson,
  resultJson,
  type StoredError,
  type StoredStatusChange,
  toMs,
} from './job-row-codec.js';
import type { ApplyResult, IdempotencyClaim, JobStore, ListJobsPage, ListJobsQuery, NewJob } from './job-store.js';

// Each entry is applied once, in order, inside one transaction that holds the migration lock; append new versions,
// never edit old ones. Names are unqualified: the migration runs with search_path set to the store's schema.
// Times are bigint milliseconds since the epoch, as in SQLite, so Dates and keyset cursors round-trip exactly.
// Ids are text in the "C" collation so that ORDER BY id is byte order, the same as SQLite and as JS string compare.
// JSON columns are json, not jsonb: json keeps the canonical text exactly as given, like SQLite's TEXT, whereas jsonb
// refuses some text JSON.stringify produces (\u0000, a lone surrogate), which here could be a prompt the upstream has
// already accepted: the job would be lost. Nothing queries inside these documents.
const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE jobs (
        id              text COLLATE "C" PRIMARY KEY,
        owner           text NOT NULL,
        upstream_id     bigint NOT NULL,
        status          text NOT NULL,
        request         json NOT NULL,
        request_hash    text NOT NULL,
        idempotency_key text,
        errors          json NOT NULL,
        result          json,
        history         json NOT NULL,
        created_at      bigint NOT NULL,
        updated_at      bigint NOT NULL,
        last_polled_at  bigint NOT NULL,
        finished_at     bigint
      );
      CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
      -- Partial index: the poller's scan touches only running jobs, however many finished ones pile up.
      -- Its WHERE must stay identical to UNFINISHED_SQL for the planner to use it.
      CREATE INDEX jobs_unfinished ON jobs (created_at, id) WHERE status NOT IN ('DONE', 'ERROR', 'CANCELLED');
      CREATE TABLE idempotency_keys (
        owner        text NOT NULL,
        key          text NOT NULL,
        request_hash text NOT NULL,
        job_id       text COLLATE "C" REFERENCES jobs (id) ON DELETE SET NULL,
        created_at   bigint NOT NULL,
        PRIMARY KEY (owner, key)
      );
      CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
    `,
  },
];

const UNFINISHED_SQL = `status NOT IN ('DONE', 'ERROR', 'CANCELLED')`;
// Guards UNFINISHED_SQL against a change to the domain's final statuses.
if ([...FINAL_STATUSES].sort().join() !== 'CANCELLED,DONE,ERROR') {
  throw new Error('postgres-job-store: FINAL_STATUSES changed; update UNFINISHED_SQL and the jobs_unfinished index');
}

/** First key of the two-key advisory lock that serializes migrations; the second is a hash of the schema name. */
const MIGRATION_LOCK_CLASS = 0x41_45_47_57; // "AEGW"

/** How many times a claim retries when the key it lost to is released before it can be read. */
const CLAIM_ATTEMPTS = 5;

// pg returns bigint columns as strings (they may exceed 2^53); ms timestamps and Claid task ids never do.
interface JobRow {
  id: string;
  owner: string;
  upstream_id: string;
  status: string;
  request: AiEditRequest;
  request_hash: string;
  idempotency_key: string | null;
  errors: StoredError[];
  result: AiEditResult | null;
  history: StoredStatusChange[];
  created_at: string;
  updated_at: string;
  last_polled_at: string;
  finished_at: string | null;
}

interface IdempotencyRow {
  request_hash: string;
  job_id: string | null;
}

export interface PostgresJobStoreOptions {
  /** `postgres://user:password@host:port/database?…`; never echoed in errors. */
  connectionString: string;
  /**
   * The schema that holds the tables, created by migrate() when missing. Default: the connection's own search_path
   * (normally `public`). Lets several stores, or tests, share one database without seeing each other.
   */
  schema?: string | undefined;
  /** Connections in this instance's pool. Default 10. */
  maxConnections?: number | undefined;
  /** How long to wait for a connection before a call fails. Default 5000 ms. */
  connectionTimeoutMs?: number | undefined;
}

function rowToJob(row: JobRow): Job {
  return {
    id: row.id,
    owner: row.owner,
    upstreamId: Number(row.upstream_id),
    status: row.status as JobStatus,
    request: row.request,
    requestHash: row.request_hash,
    idempotencyKey: row.idempotency_key,
    errors: errorsFromStored(row.errors),
    result: row.result,
    history: historyFromStored(row.history),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    lastPolledAt: new Date(Number(row.last_polled_at)),
    finishedAt: row.finished_at === null ? null : new Date(Number(row.finished_at)),
  };
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

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

/**
 * The job store on PostgreSQL (node-postgres pool), for several gateway instances sharing one database.
 * Idempotency is enforced by the database: a key is a row with PRIMARY KEY (owner, key), so of any number of
 * instances claiming it at once exactly one inserts it. Status changes take a row lock (SELECT … FOR UPDATE), so two
 * instances applying upstream answers to one job serialize and status still only moves forward.
 */
export class PostgresJobStore implements JobStore {
  readonly #pool: pg.Pool;
  readonly #schema: string | undefined;
  readonly #secrets: string[];
  readonly #jobs: string;
  readonly #keys: string;
  readonly #migrations: string;
  #closed = false;

  constructor(options: PostgresJobStoreOptions) {
    this.#secrets = secretsOf(options.connectionString);
    if (options.schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(options.schema)) {
      throw new Error('postgres-job-store: schema must be a plain identifier (letters, digits, _; at most 63)');
    }
    this.#schema = options.schema;
    const prefix = options.schema === undefined ? '' : `${quoteIdent(options.schema)}.`;
    this.#jobs = `${prefix}jobs`;
    this.#keys = `${prefix}idempotency_keys`;
    this.#migrations = `${prefix}schema_migrations`;
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

  /** Rethrows `error` with the connection password removed from its message and stack, should either carry it. */
  #scrub(error: unknown): never {
    if (error instanceof Error && this.#secrets.length > 0) {
      const clean = (text: string): string =>
        this.#secrets.reduce((out, secret) => out.split(secret).join('*****'), text);
      if (this.#secrets.some((s) => error.message.includes(s) || (error.stack ?? '').includes(s))) {
        error.message = clean(error.message);
        if (error.stack) error.stack = clean(error.stack);
      }
    }
    throw error;
  }

  async #query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>(sql, params);
    } catch (error) {
      this.#scrub(error);
    }
  }

  /** Runs `work` in one transaction on one connection; rolls back when it throws. */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      this.#scrub(error);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const value = await work(client);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      this.#scrub(error);
    } finally {
      // A connection whose ROLLBACK failed is in an unknown state: destroy it rather than hand it out again.
      client.release(broken);
    }
  }

  async migrate(): Promise<void> {
    await this.#transaction(async (client) => {
      // Several instances starting at once wait here in turn; the lock ends with the transaction.
      await client.query(`SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2, current_schema(), '')))`, [
        MIGRATION_LOCK_CLASS,
        this.#schema ?? null,
      ]);
      if (this.#schema !== undefined) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.#schema)}`);
        await client.query(`SET LOCAL search_path TO ${quoteIdent(this.#schema)}`);
      }
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.#migrations} (version integer PRIMARY KEY, applied_at bigint NOT NULL)`,
      );
      const applied = new Set(
        (await client.query<{ version: number }>(`SELECT version FROM ${this.#migrations}`)).rows.map((r) => r.version),
      );
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query(migration.sql);
        await client.query(`INSERT INTO ${this.#migrations} (version, applied_at) VALUES ($1, $2)`, [
          migration.version,
          Date.now(),
        ]);
      }
    });
  }

  async insert(job: NewJob): Promise<Job> {
    const id = randomUUID();
    const at = toMs(job.at);
    const { upstream } = job;
    const row = await this.#transaction(async (client) => {
      const inserted = await client.query<JobRow>(
        `INSERT INTO ${this.#jobs} (id, owner, upstream_id, status, request, request_hash, idempotency_key, errors,
                                    result, history, created_at, updated_at, last_polled_at, finished_at)
         VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8::json, $9::json, $10::json, $11, $11, $11, $12)
         RETURNING *`,
        [
          id,
          job.owner,
          upstream.upstreamId,
          upstream.status,
          canonicalJson(job.request),
          job.requestHash,
          job.idempotencyKey,
          errorsJson(upstream.errors),
          resultJson(upstream.result),
          historyJson([{ status: upstream.status, at }]),
          at,
          isFinalStatus(upstream.status) ? at : null,
        ],
      );
      if (job.idempotencyKey !== null) {
        // Normally the key was claimed first; the upsert also records it when the claim was never made or has
        // already expired. A key that already points at another job keeps it: the first job wins.
        await client.query(
          `INSERT INTO ${this.#keys} AS k (owner, key, request_hash, job_id, created_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (owner, key) DO UPDATE SET job_id = excluded.job_id WHERE k.job_id IS NULL`,
          [job.owner, job.idempotencyKey, job.requestHash, id, at],
        );
      }
      return inserted.rows[0];
    });
    if (!row) throw new Error('postgres-job-store: INSERT returned no row');
    return rowToJob(row);
  }

  async findByIds(ids: readonly string[]): Promise<(Job | null)[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.#query<JobRow>(`SELECT * FROM ${this.#jobs} WHERE id = ANY($1::text[])`, [[...ids]]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row ? rowToJob(row) : null;
    });
  }

  async applyUpstreamState(id: string, state: UpstreamTaskState, at: Date): Promise<ApplyResult | null> {
    const atMs = toMs(at);
    return this.#transaction(async (client): Promise<ApplyResult | null> => {
      const row = (await client.query<JobRow>(`SELECT * FROM ${this.#jobs} WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!row) return null;
      const current = row.status as JobStatus;
      const statusAccepted = current === state.status || isForwardTransition(current, state.status);
      if (isFinalStatus(current) || !statusAccepted) {
        await client.query(`UPDATE ${this.#jobs} SET last_polled_at = $1 WHERE id = $2`, [atMs, id]);
        return { job: rowToJob({ ...row, last_polled_at: String(atMs) }), changed: false };
      }

      let status = current;
      let history: string | null = null;
      let finishedAt = row.finished_at === null ? null : Number(row.finished_at);
      let changed = false;
      if (state.status !== current) {
        status = state.status;
        history = historyJson([...row.history, { status: state.status, at: atMs }]);
        if (isFinalStatus(state.status)) finishedAt = atMs;
        changed = true;
      }
      // Compared as canonical text, as SQLite does.
      const errors = errorsJson(state.errors);
      if (errors !== canonicalJson(row.errors)) changed = true;
      const result = resultJson(state.result);
      if (result !== (row.result === null ? null : canonicalJson(row.result))) changed = true;
      if (!changed) {
        await client.query(`UPDATE ${this.#jobs} SET last_polled_at = $1 WHERE id = $2`, [atMs, id]);
        return { job: rowToJob({ ...row, last_polled_at: String(atMs) }), changed: false };
      }

      const updated = await client.query<JobRow>(
        `UPDATE ${this.#jobs}
            SET status = $2, errors = $3::json, result = $4::json, history = coalesce($5::json, history),
                updated_at = $6, last_polled_at = $6, finished_at = $7
          WHERE id = $1
          RETURNING *`,
        [id, status, errors, result, history, atMs, finishedAt],
      );
      const next = updated.rows[0];
      if (!next) throw new Error('postgres-job-store: a locked job vanished inside its transaction');
      return { job: rowToJob(next), changed: true };
    });
  }

  async listUnfinished(limit?: number): Promise<Job[]> {
    if (limit !== undefined) assertLimit(limit);
    const { rows } = await this.#query<JobRow>(
      `SELECT * FROM ${this.#jobs} WHERE ${UNFINISHED_SQL} ORDER BY created_at ASC, id ASC LIMIT $1`,
      [limit ?? null],
    );
    return rows.map(rowToJob);
  }

  async listJobs(query: ListJobsQuery): Promise<ListJobsPage> {
    assertLimit(query.limit);
    const params: unknown[] = [query.owner];
    const param = (value: unknown): string => `$${params.push(value)}`;
    const where = ['owner = $1'];
    // An empty status list means no filter, like an absent one.
    if (query.statuses && query.statuses.length > 0) {
      where.push(`status = ANY(${param([...query.statuses])}::text[])`);
    }
    if (query.after) {
      where.push(`(created_at, id) < (${param(toMs(query.after.createdAt))}::bigint, ${param(query.after.id)}::text)`);
    }
    if (query.before) {
      where.push(
        `(created_at, id) > (${param(toMs(query.before.createdAt))}::bigint, ${param(query.before.id)}::text)`,
      );
    }
    const order = query.fromEnd ? 'created_at ASC, id ASC' : 'created_at DESC, id DESC';
    const { rows } = await this.#query<JobRow>(
      `SELECT * FROM ${this.#jobs} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${param(query.limit + 1)}`,
      params,
    );
    const hasMore = rows.length > query.limit;
    const page = rows.slice(0, query.limit);
    if (query.fromEnd) page.reverse();
    return { jobs: page.map(rowToJob), hasMore };
  }

  async claimIdempotencyKey(owner: string, key: string, requestHash: string, at: Date): Promise<IdempotencyClaim> {
    const atMs = toMs(at);
    // Under READ COMMITTED the INSERT waits for a concurrent claim of the same key to commit or roll back, so exactly
    // one claimer inserts. The loser reads the winner's row in a new statement (a new snapshot that sees it); should
    // the winner release the key in between, the loser simply tries again.
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const inserted = await this.#query(
        `INSERT INTO ${this.#keys} (owner, key, request_hash, job_id, created_at) VALUES ($1, $2, $3, NULL, $4)
         ON CONFLICT (owner, key) DO NOTHING
         RETURNING 1`,
        [owner, key, requestHash, atMs],
      );
      if (inserted.rowCount === 1) return { claimed: true };
      const row = (
        await this.#query<IdempotencyRow>(
          `SELECT request_hash, job_id FROM ${this.#keys} WHERE owner = $1 AND key = $2`,
          [owner, key],
        )
      ).rows[0];
      if (row) return { claimed: false, requestHash: row.request_hash, jobId: row.job_id };
    }
    throw new Error('postgres-job-store: an idempotency key kept vanishing while it was claimed');
  }

  async releaseIdempotencyKey(owner: string, key: string): Promise<void> {
    await this.#query(`DELETE FROM ${this.#keys} WHERE owner = $1 AND key = $2 AND job_id IS NULL`, [owner, key]);
  }

  async expireIdempotencyKeys(before: Date): Promise<number> {
    const { rowCount } = await this.#query(`DELETE FROM ${this.#keys} WHERE created_at < $1`, [toMs(before)]);
    return rowCount ?? 0;
  }

  async ping(): Promise<void> {
    await this.#query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0)
    throw new RangeError(`postgres-job-store: limit must be a whole number >= 0, got ${limit}`);
}
