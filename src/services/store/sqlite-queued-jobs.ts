import type Database from 'better-sqlite3';
import type { Job } from '../../domain/job.js';
import { type JobColumns, toMs } from './job-row-codec.js';
import { WAITING_SQL, waitingSql } from './sql-job-listing.js';

// The submit queue's queries on SQLite: a claim is an IMMEDIATE transaction, so processes on one file take turns.

export class SqliteQueuedJobs {
  constructor(
    private readonly db: Database.Database,
    private readonly stmt: (sql: string) => Database.Statement,
    private readonly toJob: (row: JobColumns) => Job,
  ) {}

  async claimNext(at: Date): Promise<Job | null> {
    const atMs = toMs(at);
    return this.db
      .transaction((): Job | null => {
        const row = this.stmt(
          `SELECT * FROM jobs WHERE ${WAITING_SQL} ORDER BY created_at ASC, id ASC LIMIT 1`,
        ).get() as JobColumns | undefined;
        if (!row) return null;
        this.stmt('UPDATE jobs SET send_started_at = ? WHERE id = ?').run(atMs, row.id);
        return this.toJob({ ...row, send_started_at: atMs });
      })
      .immediate();
  }

  async returnToQueue(id: string): Promise<void> {
    this.stmt(`UPDATE jobs SET send_started_at = NULL WHERE id = ? AND status = 'QUEUED' AND upstream_id IS NULL`).run(
      id,
    );
  }

  async positions(ids: readonly string[]): Promise<(number | null)[]> {
    if (ids.length === 0) return [];
    const rows = this.stmt(
      `SELECT j.id AS id, (SELECT COUNT(*) FROM jobs w WHERE ${waitingSql('w')}
                             AND (w.created_at, w.id) <= (j.created_at, j.id)) AS position
         FROM jobs j WHERE j.id IN (SELECT value FROM json_each(?)) AND ${waitingSql('j')}`,
    ).all(JSON.stringify(ids)) as { id: string; position: number }[];
    const byId = new Map(rows.map((row) => [row.id, row.position]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async countWaiting(): Promise<number> {
    return (this.stmt(`SELECT COUNT(*) AS n FROM jobs WHERE ${WAITING_SQL}`).get() as { n: number }).n;
  }
}
