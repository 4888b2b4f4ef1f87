import type pg from 'pg';
import { webhookTablesSql } from './caller-store.js';
import { POSTGRES_CALLER_COUNTERS_AT_COMMIT_SQL, POSTGRES_CALLER_COUNTERS_SQL } from './postgres-caller-counters.js';
import { quoteIdent } from './postgres-pool.js';
import { uploadTablesSql } from './upload-store.js';

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
  {
    // Jobs are recorded before their upstream call (QUEUED, no upstream id yet), and remember when sending began;
    // every existing job was sent when it was created.
    version: 2,
    sql: `
      ALTER TABLE jobs ALTER COLUMN upstream_id DROP NOT NULL;
      ALTER TABLE jobs ADD COLUMN send_started_at bigint;
      UPDATE jobs SET send_started_at = created_at;
    `,
  },
  {
    // Webhooks name a job by its upstream task id.
    version: 3,
    sql: `CREATE INDEX jobs_upstream_id ON jobs (upstream_id);`,
  },
  {
    // The submit queue: jobs waiting for the generation budget are claimed oldest first and counted for their
    // queuePosition. Its WHERE must stay identical to WAITING_SQL for the planner to use it.
    version: 4,
    sql: `CREATE INDEX jobs_waiting ON jobs (created_at, id)
            WHERE status = 'QUEUED' AND upstream_id IS NULL AND send_started_at IS NULL;`,
  },
  {
    // Uploaded images (content-addressed, one row per owner) and the secret that signs their URLs.
    version: 5,
    sql: uploadTablesSql('bytea', 'text COLLATE "C"'),
  },
  {
    // Callers' webhooks (services/webhooks), their outbox and its attempts.
    version: 6,
    sql: webhookTablesSql({
      text: 'text',
      id: 'text COLLATE "C"',
      integer: 'integer',
      time: 'bigint',
      events: 'text[]',
    }),
  },
  {
    // The per-caller counters a submit reads (unfinished jobs, images per UTC day), kept by a trigger on jobs and
    // backfilled from its rows: a submit's checks no longer walk the caller's jobs (postgres-caller-counters.ts).
    version: 7,
    sql: POSTGRES_CALLER_COUNTERS_SQL,
  },
  {
    // The counters' trigger fires at commit, so that a caller's jobs finishing at once do not queue on its counter
    // row across their transactions' round trips (postgres-caller-counters.ts).
    version: 8,
    sql: POSTGRES_CALLER_COUNTERS_AT_COMMIT_SQL,
  },
];

/** First key of the two-key advisory lock that serializes migrations; the second is a hash of the schema name. */
const MIGRATION_LOCK_CLASS = 0x41_45_47_57; // "AEGW"

/**
 * Creates the schema (and `schema`, when given) when missing and applies the migrations not yet applied, in one
 * transaction on `client`. Several instances starting at once wait on an advisory lock in turn. `throughVersion`
 * stops at that version (a database as an earlier release left it, for migration tests).
 */
export async function migratePostgres(
  client: pg.PoolClient,
  schema: string | undefined,
  throughVersion = Number.POSITIVE_INFINITY,
): Promise<void> {
  // The lock ends with the transaction.
  await client.query(`SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2, current_schema(), '')))`, [
    MIGRATION_LOCK_CLASS,
    schema ?? null,
  ]);
  if (schema !== undefined) {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
  }
  await client.query(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`,
  );
  const applied = new Set(
    (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
  );
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version) || migration.version > throughVersion) continue;
    await client.query(migration.sql);
    await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
      migration.version,
      Date.now(),
    ]);
  }
}
