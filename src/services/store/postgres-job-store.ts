import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Job, UpstreamTaskState } from '../../domain/job.js';
import {
  type DecodedJobColumns,
  JOB_COLUMN_NAMES,
  type JobColumns,
  JSON_COLUMN_NAMES,
  jobFromColumns,
  newJobColumns,
  newQueuedJobColumns,
  toMs,
} from './job-row-codec.js';
import type {
  ApplyResult,
  GatewayJobError,
  IdempotencyClaim,
  JobStore,
  ListJobsPage,
  ListJobsQuery,
  NewJob,
  NewQueuedJob,
  UnsettledSubmitFilter,
} from './job-store.js';
import { PostgresCallerStore } from './postgres-caller-store.js';
import { PostgresIdempotencyKeys } from './postgres-idempotency-keys.js';
import { PostgresJobReads } from './postgres-job-reads.js';
import { PostgresPool, type PostgresPoolOptions, quoteIdent } from './postgres-pool.js';
import { PostgresQueuedJobs } from './postgres-queued-jobs.js';
import { migratePostgres } from './postgres-schema.js';
import { PostgresUploadStore } from './postgres-upload-store.js';
import {
  type JobRowChange,
  jobAfterChange,
  planOnBasis,
  planStatusChange,
  unknownOutcome,
} from './status-change-plan.js';

// pg returns bigint columns as strings (they may exceed 2^53); ms timestamps and Claid task ids never do.
type BigintColumn = 'upstream_id' | 'created_at' | 'updated_at' | 'last_polled_at' | 'finished_at' | 'send_started_at';
type JobRow = Omit<DecodedJobColumns, BigintColumn> & {
  upstream_id: string | null;
  send_started_at: string | null;
  created_at: string;
  updated_at: string;
  last_polled_at: string;
  finished_at: string | null;
};

export interface PostgresJobStoreOptions extends PostgresPoolOptions {
  /**
   * The schema that holds the tables, created by migrate() when missing. Default: the connection's own search_path
   * (normally `public`). Lets several stores, or tests, share one database without seeing each other.
   */
  schema?: string | undefined;
}

const rowToJob = (row: JobRow): Job =>
  jobFromColumns({
    ...row,
    upstream_id: row.upstream_id === null ? null : Number(row.upstream_id),
    send_started_at: row.send_started_at === null ? null : Number(row.send_started_at),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    last_polled_at: Number(row.last_polled_at),
    finished_at: row.finished_at === null ? null : Number(row.finished_at),
  });

/**
 * The job store on PostgreSQL (node-postgres pool), for several gateway instances sharing one database.
 * Idempotency is enforced by the database: a key is a row with PRIMARY KEY (owner, key), so of any number of
 * instances claiming it at once exactly one inserts it. Status changes take a row lock (SELECT … FOR UPDATE), so two
 * instances applying upstream answers to one job serialize and status still only moves forward.
 */
export class PostgresJobStore implements JobStore {
  readonly #pool: PostgresPool;
  readonly #schema: string | undefined;
  readonly #jobs: string;
  readonly #keys: PostgresIdempotencyKeys;
  readonly #queue: PostgresQueuedJobs<JobRow>;
  readonly #reads: PostgresJobReads<JobRow>;
  readonly uploads: PostgresUploadStore;
  #closed = false;
  readonly callers: PostgresCallerStore;

  constructor(options: PostgresJobStoreOptions) {
    if (options.schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(options.schema)) {
      throw new Error('postgres-job-store: schema must be a plain identifier (letters, digits, _; at most 63)');
    }
    this.#schema = options.schema;
    const prefix = options.schema === undefined ? '' : `${quoteIdent(options.schema)}.`;
    this.#jobs = `${prefix}jobs`;
    this.#pool = new PostgresPool(options);
    this.#keys = new PostgresIdempotencyKeys(this.#pool, `${prefix}idempotency_keys`);
    this.#queue = new PostgresQueuedJobs(this.#pool, this.#jobs, rowToJob);
    this.#reads = new PostgresJobReads(this.#pool, this.#jobs, `${prefix}caller_job_counts`, rowToJob);
    this.uploads = new PostgresUploadStore(this.#pool, prefix);
    this.callers = new PostgresCallerStore(this.#pool, prefix);
  }

  /** `throughVersion`: only up to that migration (a database as an earlier release left it, for tests). */
  async migrate(throughVersion?: number): Promise<void> {
    await this.#pool.transaction((client) => migratePostgres(client, this.#schema, throughVersion));
  }

  async insert(job: NewJob): Promise<Job> {
    return this.#insertRow(newJobColumns(randomUUID(), job));
  }

  async insertQueued(job: NewQueuedJob): Promise<Job> {
    return this.#insertRow(newQueuedJobColumns(randomUUID(), job), job.webhook);
  }

  async #insertRow(columns: JobColumns, webhook?: NewQueuedJob['webhook']): Promise<Job> {
    const row = await this.#pool.transaction(async (client) => {
      const values = JOB_COLUMN_NAMES.map((name) => columns[name]);
      const placeholders = JOB_COLUMN_NAMES.map((name, i) => `$${i + 1}${JSON_COLUMN_NAMES.has(name) ? '::json' : ''}`);
      const inserted = await client.query<JobRow>(
        `INSERT INTO ${this.#jobs} (${JOB_COLUMN_NAMES.join(', ')}) VALUES (${placeholders.join(', ')}) RETURNING *`,
        values,
      );
      if (columns.idempotency_key !== null) {
        await this.#keys.recordJob(client, {
          owner: columns.owner,
          key: columns.idempotency_key,
          requestHash: columns.request_hash,
          jobId: columns.id,
          createdAtMs: columns.created_at,
        });
      }
      await this.callers.recordJobWebhook(client, columns.id, webhook);
      return inserted.rows[0];
    });
    if (!row) throw new Error('postgres-job-store: INSERT returned no row');
    return rowToJob(row);
  }

  async discardQueued(id: string): Promise<void> {
    await this.#pool.query(`DELETE FROM ${this.#jobs} WHERE id = $1 AND status = 'QUEUED' AND upstream_id IS NULL`, [
      id,
    ]);
  }

  async renewSendStarted(ids: readonly string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.#pool.query(
      `UPDATE ${this.#jobs} SET send_started_at = $1
        WHERE id = ANY($2::text[]) AND status = 'QUEUED' AND upstream_id IS NULL`,
      [toMs(at), [...ids]],
    );
  }

  async endUnsettledSubmits(filter: UnsettledSubmitFilter, error: GatewayJobError, at: Date): Promise<Job[]> {
    const atMs = toMs(at);
    return this.#pool.transaction(async (client) => {
      // SKIP LOCKED: a row another instance is settling right now (its submit's answer landing) is left to it.
      // In owner order, so that the owners' counters (the trigger of migration 7) are taken in one fixed order.
      const { rows } = await client.query<JobRow>(
        `SELECT * FROM ${this.#jobs}
          WHERE status = 'QUEUED' AND upstream_id IS NULL AND send_started_at < $1 AND NOT (id = ANY($2::text[]))
            AND ($3::text IS NULL OR id = $3)
          ORDER BY owner, id
          FOR UPDATE SKIP LOCKED`,
        [toMs(filter.sentBefore), [...(filter.except ?? [])], filter.id ?? null],
      );
      const ended: Job[] = [];
      for (const row of rows) {
        const change = planStatusChange(rowToJob(row), unknownOutcome(error, at), atMs);
        if (change) ended.push(await this.#writeChange(client, row.id, change, atMs));
      }
      return ended;
    });
  }

  // The submit queue (sqlite-queued-jobs.ts / postgres-queued-jobs.ts).
  readonly claimNextQueued = (at: Date): Promise<Job | null> => this.#queue.claimNext(at);
  readonly returnToQueue = (id: string): Promise<void> => this.#queue.returnToQueue(id);
  readonly queuePositions = (ids: readonly string[]): Promise<(number | null)[]> => this.#queue.positions(ids);
  readonly countWaiting = (): Promise<number> => this.#queue.countWaiting();

  // The reads (sqlite-job-reads.ts / postgres-job-reads.ts).
  readonly findByIds = (ids: readonly string[]): Promise<(Job | null)[]> => this.#reads.findByIds(ids);
  readonly findByUpstreamId = (upstreamId: number): Promise<Job[]> => this.#reads.findByUpstreamId(upstreamId);
  readonly listUnfinished = (limit?: number): Promise<Job[]> => this.#reads.listUnfinished(limit);
  readonly countUnfinished = (owner: string, atMost: number): Promise<number> =>
    this.#reads.countUnfinished(owner, atMost);
  readonly listJobs = (query: ListJobsQuery): Promise<ListJobsPage> => this.#reads.listJobs(query);
  readonly listRecentlyDone = (limit: number): Promise<Job[]> => this.#reads.listRecentlyDone(limit);

  async applyUpstreamState(
    id: string,
    state: UpstreamTaskState,
    at: Date,
    exact = false,
    basis?: Job,
  ): Promise<ApplyResult | null> {
    const atMs = toMs(at);
    if (basis?.id === id) {
      const { job, change } = planOnBasis(basis, state, atMs, exact);
      // An unchanged answer that teaches a task id (a submit's) is rare enough to take the transaction.
      const recorded = change
        ? await this.#recordChange(atMs, basis, job, change)
        : basis.upstreamId === null
          ? undefined
          : await this.#recordUnchangedRead(id, atMs, basis);
      if (recorded) return recorded;
    }
    return this.#pool.transaction(async (client): Promise<ApplyResult | null> => {
      const found = (await client.query<JobRow>(`SELECT * FROM ${this.#jobs} WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!found) return null;
      // A submit's answer: the job learns its task id, even when it was ended meanwhile.
      const learnsId = found.upstream_id === null;
      const row = learnsId ? { ...found, upstream_id: String(state.upstreamId) } : found;
      const change = planStatusChange(rowToJob(row), state, atMs, exact ? atMs : undefined);
      if (!change) {
        await client.query(
          `UPDATE ${this.#jobs} SET last_polled_at = $1, upstream_id = coalesce(upstream_id, $3) WHERE id = $2`,
          [atMs, id, state.upstreamId],
        );
        return { job: rowToJob({ ...row, last_polled_at: String(atMs) }), changed: learnsId };
      }
      if (learnsId)
        await client.query(`UPDATE ${this.#jobs} SET upstream_id = $2 WHERE id = $1`, [id, state.upstreamId]);
      return { job: await this.#writeChange(client, id, change, atMs), changed: true };
    });
  }

  /**
   * A read planned against `basis` (the job as its reader saw it) is written in one statement, in no transaction of
   * its own, on the condition that the row still holds basis's state: its status and updatedAt (which every change of
   * status, errors or result sets) and a known task. Otherwise it matches nothing and the caller takes the full way:
   * a transaction that locks the row, reads it back and plans against that, four round trips more. Most reads change
   * nothing a reader sees (a rendering job is read every second while watched): then only lastPolledAt moves.
   */
  async #recordUnchangedRead(id: string, atMs: number, basis: Job): Promise<ApplyResult | undefined> {
    const { rowCount } = await this.#pool.query(
      `UPDATE ${this.#jobs} SET last_polled_at = $1
        WHERE id = $2 AND status = $3 AND updated_at = $4 AND upstream_id IS NOT NULL`,
      [atMs, id, basis.status, toMs(basis.updatedAt)],
    );
    return rowCount === 1 ? { job: { ...basis, lastPolledAt: new Date(atMs) }, changed: false } : undefined;
  }

  /**
   * A change, with its webhook event, in one statement as well (its counters' trigger fires as it commits): the
   * status change is on the path of every subscriber's event, and a submit's caller waits for its answer's; each
   * round trip of a transaction waits for this process to get the CPU back. The condition also holds lastPolledAt,
   * which the plan's `since` comes from, and the task id as basis had it (none, for a submit's answer, which writes
   * the one it learnt). The answer is `job` as the change leaves it, which the webhook event carries too.
   */
  async #recordChange(atMs: number, basis: Job, job: Job, change: JobRowChange): Promise<ApplyResult | undefined> {
    const changed = jobAfterChange(job, change, atMs);
    const event = this.callers.eventInsertAfter('changed', changed, 14);
    const { rowCount } = await this.#pool.query(
      `WITH changed AS (
         UPDATE ${this.#jobs}
            SET status = $2, errors = $3::json, result = $4::json, history = $5::json,
                updated_at = $6, last_polled_at = $7, finished_at = $8, upstream_id = $9
          WHERE id = $1 AND status = $10 AND updated_at = $11 AND last_polled_at = $12
            AND upstream_id IS NOT DISTINCT FROM $13::bigint
          RETURNING id
       ), event AS (${event.sql})
       SELECT id FROM changed`,
      [
        job.id,
        change.status,
        change.errors,
        change.result,
        change.history,
        change.updatedAt,
        atMs,
        change.finishedAt,
        job.upstreamId,
        basis.status,
        toMs(basis.updatedAt),
        toMs(basis.lastPolledAt),
        basis.upstreamId,
        ...event.params,
      ],
    );
    return rowCount === 1 ? { job: changed, changed: true } : undefined;
  }

  async #writeChange(client: pg.PoolClient, id: string, change: JobRowChange, atMs: number): Promise<Job> {
    const updated = await client.query<JobRow>(
      `UPDATE ${this.#jobs}
          SET status = $2, errors = $3::json, result = $4::json, history = $5::json,
              updated_at = $6, last_polled_at = $7, finished_at = $8
        WHERE id = $1
        RETURNING *`,
      [id, change.status, change.errors, change.result, change.history, change.updatedAt, atMs, change.finishedAt],
    );
    const next = updated.rows[0];
    if (!next) throw new Error('postgres-job-store: a locked job vanished inside its transaction');
    const job = rowToJob(next);
    // The webhook event, if the job's webhook asked for it, commits (or not) with the change itself.
    await this.callers.enqueueEvent(client, job);
    return job;
  }

  claimIdempotencyKey(owner: string, key: string, requestHash: string, at: Date): Promise<IdempotencyClaim> {
    return this.#keys.claim(owner, key, requestHash, at);
  }

  releaseIdempotencyKey(owner: string, key: string): Promise<void> {
    return this.#keys.release(owner, key);
  }

  takeOverIdempotencyKey(
    owner: string,
    key: string,
    requestHash: string,
    staleBefore: Date,
    at: Date,
  ): Promise<boolean> {
    return this.#keys.takeOver(owner, key, requestHash, staleBefore, at);
  }

  expireIdempotencyKeys(before: Date): Promise<number> {
    return this.#keys.expire(before);
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
