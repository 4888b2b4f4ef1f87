import type pg from 'pg';
import { toMs } from './job-row-codec.js';
import type { IdempotencyClaim } from './job-store.js';
import type { PostgresPool } from './postgres-pool.js';

// The idempotency_keys table's queries for PostgresJobStore. A key is a row with PRIMARY KEY (owner, key), so of
// any number of instances claiming it at once exactly one inserts it.

/** How many times a claim retries when the key it lost to is released before it can be read. */
const CLAIM_ATTEMPTS = 5;

interface IdempotencyRow {
  request_hash: string;
  job_id: string | null;
}

export class PostgresIdempotencyKeys {
  readonly #pool: PostgresPool;
  readonly #keys: string;

  /** `table` is the idempotency_keys table's name, already schema-qualified and quoted where needed. */
  constructor(pool: PostgresPool, table: string) {
    this.#pool = pool;
    this.#keys = table;
  }

  /** Inside the transaction that inserts the job. */
  async recordJob(
    client: pg.PoolClient,
    key: { owner: string; key: string; requestHash: string; jobId: string; createdAtMs: number },
  ): Promise<void> {
    // Normally the key was claimed first; the upsert also records it when the claim was never made or has
    // already expired. A key that already points at another job keeps it: the first job wins.
    await client.query(
      `INSERT INTO ${this.#keys} AS k (owner, key, request_hash, job_id, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (owner, key) DO UPDATE SET job_id = excluded.job_id WHERE k.job_id IS NULL`,
      [key.owner, key.key, key.requestHash, key.jobId, key.createdAtMs],
    );
  }

  async claim(owner: string, key: string, requestHash: string, at: Date): Promise<IdempotencyClaim> {
    const atMs = toMs(at);
    // Under READ COMMITTED the INSERT waits for a concurrent claim of the same key to commit or roll back, so exactly
    // one claimer inserts. The loser reads the winner's row in a new statement (a new snapshot that sees it); should
    // the winner release the key in between, the loser simply tries again.
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const inserted = await this.#pool.query(
        `INSERT INTO ${this.#keys} (owner, key, request_hash, job_id, created_at) VALUES ($1, $2, $3, NULL, $4)
         ON CONFLICT (owner, key) DO NOTHING
         RETURNING 1`,
        [owner, key, requestHash, atMs],
      );
      if (inserted.rowCount === 1) return { claimed: true };
      const row = (
        await this.#pool.query<IdempotencyRow>(
          `SELECT request_hash, job_id FROM ${this.#keys} WHERE owner = $1 AND key = $2`,
          [owner, key],
        )
      ).rows[0];
      if (row) return { claimed: false, requestHash: row.request_hash, jobId: row.job_id };
    }
    throw new Error('postgres-job-store: an idempotency key kept vanishing while it was claimed');
  }

  async release(owner: string, key: string): Promise<void> {
    await this.#pool.query(`DELETE FROM ${this.#keys} WHERE owner = $1 AND key = $2 AND job_id IS NULL`, [owner, key]);
  }

  async takeOver(owner: string, key: string, requestHash: string, staleBefore: Date, at: Date): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      `UPDATE ${this.#keys} SET request_hash = $3, created_at = $4
        WHERE owner = $1 AND key = $2 AND job_id IS NULL AND created_at < $5`,
      [owner, key, requestHash, toMs(at), toMs(staleBefore)],
    );
    return rowCount === 1;
  }

  async expire(before: Date): Promise<number> {
    const { rowCount } = await this.#pool.query(`DELETE FROM ${this.#keys} WHERE created_at < $1`, [toMs(before)]);
    return rowCount ?? 0;
  }
}
