import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Job, UpstreamTaskState } from '../../domain/job.js';
import { type JobColumns, jobFromColumns, newJobColumns, newQueuedJobColumns, toMs } from './job-row-codec.js';
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
import { SqliteCallerStore } from './sqlite-caller-store.js';
import { SqliteJobReads } from './sqlite-job-reads.js';
import { SqliteQueuedJobs } from './sqlite-queued-jobs.js';
import { migrateSqlite } from './sqlite-schema.js';
import { SqliteUploadStore } from './sqlite-upload-store.js';
import { changedColumns, jobAfterChange, planOnBasis, planStatusChange, unknownOutcome } from './status-change-plan.js';

type JobRow = JobColumns;

interface IdempotencyRow {
  request_hash: string;
  job_id: string | null;
}

const pickChange = (row: JobRow) => ({
  id: row.id,
  upstream_id: row.upstream_id,
  status: row.status,
  errors: row.errors,
  result: row.result,
  history: row.history,
  updated_at: row.updated_at,
  last_polled_at: row.last_polled_at,
  finished_at: row.finished_at,
});

const rowToJob = (row: JobRow): Job =>
  jobFromColumns({
    ...row,
    request: JSON.parse(row.request),
    errors: JSON.parse(row.errors),
    result: row.result === null ? null : JSON.parse(row.result),
    history: JSON.parse(row.history),
  });

/**
 * The job store on SQLite (better-sqlite3). Calls are synchronous underneath, so each method is atomic within
 * one process; write transactions are IMMEDIATE so several processes on one file serialize instead of deadlocking.
 */
export class SqliteJobStore implements JobStore {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #queue: SqliteQueuedJobs;
  readonly #reads: SqliteJobReads;
  readonly uploads: SqliteUploadStore;
  #closed = false;
  readonly callers: SqliteCallerStore;
  // The submit path's transactions, made once: better-sqlite3 builds four wrapper functions on every transaction().
  readonly #insertTx: (row: JobRow, webhook: NewQueuedJob['webhook']) => void;
  readonly #applyTx: (
    id: string,
    state: UpstreamTaskState,
    atMs: number,
    exact: boolean,
    basis: Job | undefined,
  ) => ApplyResult | null;
  readonly #claimKeyTx: (owner: string, key: string, requestHash: string, atMs: number) => IdempotencyClaim;

  /** `path` is `':memory:'` or a file path; a missing parent directory is created. */
  constructor(path: string) {
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('foreign_keys = ON');
    this.#queue = new SqliteQueuedJobs(this.#db, (sql) => this.#stmt(sql), rowToJob);
    this.#reads = new SqliteJobReads((sql) => this.#stmt(sql), rowToJob);
    this.uploads = new SqliteUploadStore(this.#db);
    this.callers = new SqliteCallerStore(this.#db, (sql) => this.#stmt(sql));
    this.#insertTx = this.#db.transaction(this.#writeInsert.bind(this)).immediate;
    this.#applyTx = this.#db.transaction(this.#writeApply.bind(this)).immediate;
    this.#claimKeyTx = this.#db.transaction(this.#writeKeyClaim.bind(this)).immediate;
  }

  #stmt(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** `throughVersion`: only up to that migration (a database as an earlier release left it, for tests). */
  async migrate(throughVersion?: number): Promise<void> {
    migrateSqlite(this.#db, throughVersion);
  }

  async insert(job: NewJob): Promise<Job> {
    return this.#insertRow(newJobColumns(randomUUID(), job));
  }

  async insertQueued(job: NewQueuedJob): Promise<Job> {
    return this.#insertRow(newQueuedJobColumns(randomUUID(), job), job.webhook);
  }

  #insertRow(row: JobRow, webhook?: NewQueuedJob['webhook']): Job {
    this.#insertTx(row, webhook);
    return rowToJob(row);
  }

  #writeInsert(row: JobRow, webhook: NewQueuedJob['webhook']): void {
    this.#stmt(
      `INSERT INTO jobs (id, owner, upstream_id, status, request, request_hash, idempotency_key, errors, result,
                         history, created_at, updated_at, last_polled_at, finished_at, send_started_at)
       VALUES (@id, @owner, @upstream_id, @status, @request, @request_hash, @idempotency_key, @errors, @result,
               @history, @created_at, @updated_at, @last_polled_at, @finished_at, @send_started_at)`,
    ).run(row);
    if (row.idempotency_key !== null) {
      // Normally the key was claimed first; the upsert also records it when the claim was never made or has
      // already expired. A key that already points at another job keeps it: the first job wins.
      this.#stmt(
        `INSERT INTO idempotency_keys (owner, key, request_hash, job_id, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (owner, key) DO UPDATE SET job_id = excluded.job_id WHERE idempotency_keys.job_id IS NULL`,
      ).run(row.owner, row.idempotency_key, row.request_hash, row.id, row.created_at);
    }
    this.callers.recordJobWebhook(row.id, webhook);
  }

  async discardQueued(id: string): Promise<void> {
    this.#stmt(`DELETE FROM jobs WHERE id = ? AND status = 'QUEUED' AND upstream_id IS NULL`).run(id);
  }

  /**
   * Writes a planned status change (and the poll time, and the upstream id of `row`, which a submit's answer has
   * just given it) to the job's row; returns the job as it now is.
   */
  #writeChange(row: JobRow, change: Parameters<typeof changedColumns>[0], atMs: number): Job {
    const next: JobRow = { ...row, ...changedColumns(change), last_polled_at: atMs };
    this.#stmt(
      `UPDATE jobs SET status = @status, errors = @errors, result = @result, history = @history,
                       updated_at = @updated_at, last_polled_at = @last_polled_at, finished_at = @finished_at,
                       upstream_id = @upstream_id
       WHERE id = @id`,
    ).run(pickChange(next));
    const job = rowToJob(next);
    // The webhook event, if the job's webhook asked for it, commits (or not) with the change itself.
    this.callers.enqueueEvent(job);
    return job;
  }

  async renewSendStarted(ids: readonly string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    this.#stmt(
      `UPDATE jobs SET send_started_at = ?
        WHERE id IN (SELECT value FROM json_each(?)) AND status = 'QUEUED' AND upstream_id IS NULL`,
    ).run(toMs(at), JSON.stringify(ids));
  }

  async endUnsettledSubmits(filter: UnsettledSubmitFilter, error: GatewayJobError, at: Date): Promise<Job[]> {
    const atMs = toMs(at);
    return this.#db
      .transaction((): Job[] => {
        const rows = this.#stmt(
          `SELECT * FROM jobs WHERE status = 'QUEUED' AND upstream_id IS NULL AND send_started_at < ?
              AND id NOT IN (SELECT value FROM json_each(?)) AND (? IS NULL OR id = ?)`,
        ).all(
          toMs(filter.sentBefore),
          JSON.stringify(filter.except ?? []),
          filter.id ?? null,
          filter.id ?? null,
        ) as JobRow[];
        return rows.flatMap((row) => {
          const change = planStatusChange(rowToJob(row), unknownOutcome(error, at), atMs);
          if (!change) return [];
          return [this.#writeChange(row, change, atMs)];
        });
      })
      .immediate();
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
    return this.#applyTx(id, state, toMs(at), exact, basis);
  }

  #writeApply(
    id: string,
    state: UpstreamTaskState,
    atMs: number,
    exact: boolean,
    basis: Job | undefined,
  ): ApplyResult | null {
    if (basis?.id === id) {
      const applied = this.#applyOnBasis(basis, state, atMs, exact);
      if (applied) return applied;
    }
    const found = this.#stmt('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    if (!found) return null;
    // A submit's answer: the job learns its task id, even when it was ended meanwhile.
    const learnsId = found.upstream_id === null;
    const row = learnsId ? { ...found, upstream_id: state.upstreamId } : found;
    const job = rowToJob(row);
    const change = planStatusChange(job, state, atMs, exact ? atMs : undefined);
    if (!change) {
      this.#stmt('UPDATE jobs SET last_polled_at = ?, upstream_id = ? WHERE id = ?').run(atMs, row.upstream_id, id);
      return { job: { ...job, lastPolledAt: new Date(atMs) }, changed: learnsId };
    }
    return { job: this.#writeChange(row, change, atMs), changed: true };
  }

  /**
   * The answer planned against `basis` (the job as its caller last saw it: a poll's look, or the job a submit has
   * just recorded) and written on the condition that the row still holds basis's state, with no read of the row and
   * none of its JSON decoded. Undefined when the row has moved on; then the caller plans against the row itself.
   * The guard is every column the plan reads: status, updatedAt (set by every change of status, errors or result),
   * lastPolledAt (a change's `since`) and the task id.
   */
  #applyOnBasis(basis: Job, state: UpstreamTaskState, atMs: number, exact: boolean): ApplyResult | undefined {
    const { job, change } = planOnBasis(basis, state, atMs, exact);
    const guard = [basis.status, toMs(basis.updatedAt), toMs(basis.lastPolledAt), basis.upstreamId] as const;
    if (!change) {
      const written = this.#stmt(
        `UPDATE jobs SET last_polled_at = ?, upstream_id = ?
          WHERE id = ? AND status = ? AND updated_at = ? AND last_polled_at = ? AND upstream_id IS ?`,
      ).run(atMs, job.upstreamId, job.id, ...guard);
      // A submit's answer that changes nothing else still teaches the task id: that is a change.
      const learnsId = basis.upstreamId === null;
      return written.changes === 1 ? { job: { ...job, lastPolledAt: new Date(atMs) }, changed: learnsId } : undefined;
    }
    const written = this.#stmt(
      `UPDATE jobs SET status = ?, errors = ?, result = ?, history = ?, updated_at = ?, last_polled_at = ?,
                       finished_at = ?, upstream_id = ?
        WHERE id = ? AND status = ? AND updated_at = ? AND last_polled_at = ? AND upstream_id IS ?`,
    ).run(
      change.status,
      change.errors,
      change.result,
      change.history,
      change.updatedAt,
      atMs,
      change.finishedAt,
      job.upstreamId,
      job.id,
      ...guard,
    );
    if (written.changes !== 1) return undefined;
    const changed = jobAfterChange(job, change, atMs);
    // The webhook event, if the job's webhook asked for it, commits (or not) with the change itself.
    this.callers.enqueueEvent(changed);
    return { job: changed, changed: true };
  }

  async claimIdempotencyKey(owner: string, key: string, requestHash: string, at: Date): Promise<IdempotencyClaim> {
    return this.#claimKeyTx(owner, key, requestHash, toMs(at));
  }

  #writeKeyClaim(owner: string, key: string, requestHash: string, atMs: number): IdempotencyClaim {
    const inserted = this.#stmt(
      `INSERT INTO idempotency_keys (owner, key, request_hash, job_id, created_at) VALUES (?, ?, ?, NULL, ?)
       ON CONFLICT (owner, key) DO NOTHING`,
    ).run(owner, key, requestHash, atMs);
    if (inserted.changes === 1) return { claimed: true };
    const row = this.#stmt('SELECT request_hash, job_id FROM idempotency_keys WHERE owner = ? AND key = ?').get(
      owner,
      key,
    ) as IdempotencyRow | undefined;
    if (!row) throw new Error('sqlite-job-store: idempotency key vanished inside its transaction');
    return { claimed: false, requestHash: row.request_hash, jobId: row.job_id };
  }

  async releaseIdempotencyKey(owner: string, key: string): Promise<void> {
    this.#stmt('DELETE FROM idempotency_keys WHERE owner = ? AND key = ? AND job_id IS NULL').run(owner, key);
  }

  async takeOverIdempotencyKey(
    owner: string,
    key: string,
    requestHash: string,
    staleBefore: Date,
    at: Date,
  ): Promise<boolean> {
    const taken = this.#stmt(
      `UPDATE idempotency_keys SET request_hash = ?, created_at = ?
        WHERE owner = ? AND key = ? AND job_id IS NULL AND created_at < ?`,
    ).run(requestHash, toMs(at), owner, key, toMs(staleBefore));
    return taken.changes === 1;
  }

  async expireIdempotencyKeys(before: Date): Promise<number> {
    return this.#stmt('DELETE FROM idempotency_keys WHERE created_at < ?').run(toMs(before)).changes;
  }

  async ping(): Promise<void> {
    this.#stmt('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
  }
}
