import type { Job } from '../../domain/job.js';
import { toMs } from './job-row-codec.js';
import type { PostgresPool } from './postgres-pool.js';
import { WAITING_SQL, waitingSql } from './sql-job-listing.js';

// The submit queue's queries on PostgreSQL. A claim is one UPDATE over a FOR UPDATE SKIP LOCKED subquery: of several
// instances claiming at once, each gets a different job, and none waits for another's lock.

export class PostgresQueuedJobs<Row extends object> {
  constructor(
    private readonly pool: PostgresPool,
    /** The jobs table, schema-qualified when the store has a schema. */
    private readonly jobs: string,
    private readonly toJob: (row: Row) => Job,
  ) {}

  async claimNext(at: Date): Promise<Job | null> {
    // SKIP LOCKED: a job another instance is claiming right now is left to it; this one takes the next.
    const { rows } = await this.pool.query<Row>(
      `UPDATE ${this.jobs} SET send_started_at = $1
        WHERE id = (SELECT id FROM ${this.jobs} WHERE ${WAITING_SQL}
                     ORDER BY created_at ASC, id ASC LIMIT 1 FOR UPDATE SKIP LOCKED)
          AND ${WAITING_SQL}
        RETURNING *`,
      [toMs(at)],
    );
    return rows[0] ? this.toJob(rows[0]) : null;
  }

  async returnToQueue(id: string): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.jobs} SET send_started_at = NULL WHERE id = $1 AND status = 'QUEUED' AND upstream_id IS NULL`,
      [id],
    );
  }

  async positions(ids: readonly string[]): Promise<(number | null)[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<{ id: string; position: string }>(
      `SELECT j.id, (SELECT count(*) FROM ${this.jobs} w WHERE ${waitingSql('w')}
                       AND (w.created_at, w.id) <= (j.created_at, j.id)) AS position
         FROM ${this.jobs} j WHERE j.id = ANY($1::text[]) AND ${waitingSql('j')}`,
      [[...ids]],
    );
    const byId = new Map(rows.map((row) => [row.id, Number(row.position)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async countWaiting(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.jobs} WHERE ${WAITING_SQL}`,
    );
    return Number(rows[0]?.n ?? 0);
  }
}
