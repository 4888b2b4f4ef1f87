import type { Job } from '../../domain/job.js';
import { TurnBatcher } from '../../lib/turn-batcher.js';
import { toMs } from './job-row-codec.js';
import { type ListJobsPage, type ListJobsQuery, UPSTREAM_ID_MATCH_LIMIT } from './job-store.js';
import type { PostgresPool } from './postgres-pool.js';
import { assertLimit, listingOrder, toPage, UNFINISHED_SQL } from './sql-job-listing.js';

// The job store's reads on PostgreSQL: jobs by id and by upstream id, the listings, and the unfinished count (a
// counter the trigger of migration 7 keeps). None of them writes or locks, so each is one query on the pool.

export class PostgresJobReads<Row extends { id: string }> {
  constructor(
    private readonly pool: PostgresPool,
    /** The jobs table, schema-qualified when the store has a schema. */
    private readonly jobs: string,
    /** The per-owner counters' table (caller_job_counts), qualified like `jobs`. */
    private readonly jobCounts: string,
    private readonly toJob: (row: Row) => Job,
  ) {}

  /**
   * Rows by id asked for in one turn of the event loop, read in one query: when 10,000 subscribers arrive at once,
   * each shared stream loads its job as it starts (100 jobs, 100 loads in a few turns), and the poller looks a job
   * up before each read. One query each would queue them on the pool's connections (10 by default, each waiting
   * 5 s at most), each needing the event loop to come round before its connection is free again: under load that
   * outlasted the 5 s, and subscribers were refused with STORE_UNAVAILABLE.
   */
  readonly #byId = new TurnBatcher<Row>(async (ids) => {
    const { rows } = await this.pool.query<Row>(`SELECT * FROM ${this.jobs} WHERE id = ANY($1::text[])`, [ids]);
    return new Map(rows.map((row) => [row.id, row]));
  });

  async findByIds(ids: readonly string[]): Promise<(Job | null)[]> {
    // Each caller decodes its own Job objects, as when it queried alone.
    const rows = await this.#byId.get(ids);
    return rows.map((row) => (row ? this.toJob(row) : null));
  }

  async findByUpstreamId(upstreamId: number): Promise<Job[]> {
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM ${this.jobs} WHERE upstream_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
      [upstreamId, UPSTREAM_ID_MATCH_LIMIT],
    );
    return rows.map(this.toJob);
  }

  async listUnfinished(limit?: number): Promise<Job[]> {
    if (limit !== undefined) assertLimit(limit);
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM ${this.jobs} WHERE ${UNFINISHED_SQL} ORDER BY created_at ASC, id ASC LIMIT $1`,
      [limit ?? null],
    );
    return rows.map(this.toJob);
  }

  async countUnfinished(owner: string, atMost: number): Promise<number> {
    assertLimit(atMost);
    // The counter the jobs' trigger keeps (migration 7): one row, however many jobs the owner has.
    const { rows } = await this.pool.query<{ unfinished: number }>(
      `SELECT unfinished FROM ${this.jobCounts} WHERE owner = $1`,
      [owner],
    );
    return Math.min(rows[0]?.unfinished ?? 0, atMost);
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
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM ${this.jobs} WHERE ${where.join(' AND ')}
        ORDER BY ${listingOrder(query.fromEnd)} LIMIT ${param(query.limit + 1)}`,
      params,
    );
    return toPage(rows, query, this.toJob);
  }

  async listRecentlyDone(limit: number): Promise<Job[]> {
    assertLimit(limit);
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM ${this.jobs} WHERE status = 'DONE' ORDER BY finished_at DESC, id DESC LIMIT $1`,
      [limit],
    );
    return rows.map(this.toJob);
  }
}
