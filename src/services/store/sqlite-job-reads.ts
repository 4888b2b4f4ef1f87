import type Database from 'better-sqlite3';
import type { Job } from '../../domain/job.js';
import { type JobColumns, toMs } from './job-row-codec.js';
import { type ListJobsPage, type ListJobsQuery, UPSTREAM_ID_MATCH_LIMIT } from './job-store.js';
import { assertLimit, inIdOrder, listingOrder, toPage, UNFINISHED_SQL } from './sql-job-listing.js';

// The job store's reads on SQLite: jobs by id and by upstream id, the listings, and the unfinished count (a counter
// the triggers of migration 8 keep). None of them writes, so none needs a transaction.

export class SqliteJobReads {
  constructor(
    private readonly stmt: (sql: string) => Database.Statement,
    private readonly toJob: (row: JobColumns) => Job,
  ) {}

  async findByIds(ids: readonly string[]): Promise<(Job | null)[]> {
    if (ids.length === 0) return [];
    if (ids.length === 1) {
      // The common read (one job per request, DataLoader's batch of one): the primary key, no JSON to build or walk.
      const row = this.stmt('SELECT * FROM jobs WHERE id = ?').get(ids[0]) as JobColumns | undefined;
      return [row ? this.toJob(row) : null];
    }
    const rows = this.stmt(`SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?))`).all(
      JSON.stringify(ids),
    ) as JobColumns[];
    return inIdOrder(ids, rows, this.toJob);
  }

  async findByUpstreamId(upstreamId: number): Promise<Job[]> {
    const rows = this.stmt(
      `SELECT * FROM jobs WHERE upstream_id = ? ORDER BY created_at DESC, id DESC LIMIT ${UPSTREAM_ID_MATCH_LIMIT}`,
    ).all(upstreamId) as JobColumns[];
    return rows.map(this.toJob);
  }

  async listUnfinished(limit?: number): Promise<Job[]> {
    if (limit !== undefined) assertLimit(limit);
    const rows = this.stmt(`SELECT * FROM jobs WHERE ${UNFINISHED_SQL} ORDER BY created_at ASC, id ASC LIMIT ?`).all(
      limit ?? -1,
    ) as JobColumns[];
    return rows.map(this.toJob);
  }

  async countUnfinished(owner: string, atMost: number): Promise<number> {
    assertLimit(atMost);
    // The counter the jobs' triggers keep (migration 8): one row, however many jobs the owner has.
    const row = this.stmt('SELECT unfinished FROM caller_job_counts WHERE owner = ?').get(owner) as
      | { unfinished: number }
      | undefined;
    return Math.min(row?.unfinished ?? 0, atMost);
  }

  async listJobs(query: ListJobsQuery): Promise<ListJobsPage> {
    assertLimit(query.limit);
    const where = ['owner = @owner'];
    const params: Record<string, unknown> = { owner: query.owner, limit: query.limit + 1 };
    // An empty status list means no filter, like an absent one.
    if (query.statuses && query.statuses.length > 0) {
      where.push('status IN (SELECT value FROM json_each(@statuses))');
      params.statuses = JSON.stringify(query.statuses);
    }
    if (query.after) {
      where.push('(created_at, id) < (@afterCreatedAt, @afterId)');
      params.afterCreatedAt = toMs(query.after.createdAt);
      params.afterId = query.after.id;
    }
    if (query.before) {
      where.push('(created_at, id) > (@beforeCreatedAt, @beforeId)');
      params.beforeCreatedAt = toMs(query.before.createdAt);
      params.beforeId = query.before.id;
    }
    // At most 16 distinct shapes, each prepared once.
    const rows = this.stmt(
      `SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY ${listingOrder(query.fromEnd)} LIMIT @limit`,
    ).all(params) as JobColumns[];
    return toPage(rows, query, this.toJob);
  }

  async listRecentlyDone(limit: number): Promise<Job[]> {
    assertLimit(limit);
    const rows = this.stmt(`SELECT * FROM jobs WHERE status = 'DONE' ORDER BY finished_at DESC, id DESC LIMIT ?`).all(
      limit,
    ) as JobColumns[];
    return rows.map(this.toJob);
  }
}
