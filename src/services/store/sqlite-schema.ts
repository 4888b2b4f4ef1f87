import type Database from 'better-sqlite3';
import { webhookTablesSql } from './caller-store.js';
import { SQLITE_CALLER_COUNTERS_SQL } from './sqlite-caller-counters.js';
import { uploadTablesSql } from './upload-store.js';

// Each entry is applied once, in order, inside one transaction; append new versions, never edit old ones.
const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE jobs (
        id              TEXT PRIMARY KEY,
        owner           TEXT NOT NULL,
        upstream_id     INTEGER NOT NULL,
        status          TEXT NOT NULL,
        request         TEXT NOT NULL,
        request_hash    TEXT NOT NULL,
        idempotency_key TEXT,
        errors          TEXT NOT NULL,
        result          TEXT,
        history         TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        last_polled_at  INTEGER NOT NULL,
        finished_at     INTEGER
      );
      CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
      -- Partial index: the poller's scan touches only running jobs, however many finished ones pile up.
      -- Its WHERE must stay identical to UNFINISHED_SQL for the planner to use it.
      CREATE INDEX jobs_unfinished ON jobs (created_at, id) WHERE status NOT IN ('DONE', 'ERROR', 'CANCELLED');
      CREATE TABLE idempotency_keys (
        owner        TEXT NOT NULL,
        key          TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        job_id       TEXT REFERENCES jobs (id) ON DELETE SET NULL,
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (owner, key)
      );
      CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
    `,
  },
  {
    // Jobs are recorded before their upstream call (QUEUED, no upstream id yet), and remember when sending began.
    // SQLite cannot drop NOT NULL in place; both tables are rebuilt so the idempotency keys' references to jobs
    // survive (dropping a referenced table would null them), and every row is copied as it was.
    version: 2,
    sql: `
      CREATE TABLE jobs_v2 (
        id              TEXT PRIMARY KEY,
        owner           TEXT NOT NULL,
        upstream_id     INTEGER,
        status          TEXT NOT NULL,
        request         TEXT NOT NULL,
        request_hash    TEXT NOT NULL,
        idempotency_key TEXT,
        errors          TEXT NOT NULL,
        result          TEXT,
        history         TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        last_polled_at  INTEGER NOT NULL,
        finished_at     INTEGER,
        send_started_at INTEGER
      );
      INSERT INTO jobs_v2 SELECT id, owner, upstream_id, status, request, request_hash, idempotency_key, errors,
                                 result, history, created_at, updated_at, last_polled_at, finished_at, created_at
                            FROM jobs;
      CREATE TABLE idempotency_keys_v2 (
        owner        TEXT NOT NULL,
        key          TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        job_id       TEXT REFERENCES jobs_v2 (id) ON DELETE SET NULL,
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (owner, key)
      );
      INSERT INTO idempotency_keys_v2 SELECT owner, key, request_hash, job_id, created_at FROM idempotency_keys;
      DROP TABLE idempotency_keys;
      DROP TABLE jobs;
      ALTER TABLE jobs_v2 RENAME TO jobs;
      ALTER TABLE idempotency_keys_v2 RENAME TO idempotency_keys;
      CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
      CREATE INDEX jobs_unfinished ON jobs (created_at, id) WHERE status NOT IN ('DONE', 'ERROR', 'CANCELLED');
      CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
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
    sql: uploadTablesSql('BLOB', 'TEXT'),
  },
  {
    // Callers' webhooks (services/webhooks), their outbox and its attempts.
    version: 6,
    sql: webhookTablesSql({ text: 'TEXT', id: 'TEXT', integer: 'INTEGER', time: 'INTEGER', events: 'TEXT' }),
  },
  {
    // Every submit counts its caller's unfinished jobs (MAX_UNFINISHED_JOBS): without it, that count walks all of
    // the caller's jobs, final ones included. (PostgreSQL has none yet: with two partial indexes of one predicate its
    // planner took this one for the poller's listing on small tables; its count walks jobs_owner_created.)
    version: 7,
    sql: `CREATE INDEX jobs_owner_unfinished ON jobs (owner) WHERE status NOT IN ('DONE', 'ERROR', 'CANCELLED');`,
  },
  {
    // The per-caller counters a submit reads (unfinished jobs, images per UTC day), kept by triggers on jobs and
    // backfilled from its rows: a submit's checks no longer walk the caller's jobs (sqlite-caller-counters.ts).
    version: 8,
    sql: SQLITE_CALLER_COUNTERS_SQL,
  },
];

/**
 * Creates the schema when missing and applies the migrations not yet applied; IMMEDIATE, so processes take turns.
 * `throughVersion` stops at that version (a database as an earlier release left it, for migration tests).
 */
export function migrateSqlite(db: Database.Database, throughVersion = Number.POSITIVE_INFINITY): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`);
  db.transaction(() => {
    const applied = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version) || migration.version > throughVersion) continue;
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(
        migration.version,
        Date.now(),
      );
    }
  }).immediate();
}
