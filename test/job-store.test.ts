import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createJobStore } from '../src/services/job-store-factory.js';
import { SqliteJobStore } from '../src/services/sqlite-job-store.js';
import { describeJobStoreContract } from './support/job-store-contract.js';

const tempRoot = mkdtempSync(join(tmpdir(), 'job-store-test-'));
let fileCounter = 0;
/** A database path in a directory that does not exist yet, so the store must create it. */
const freshDbPath = (): string => join(tempRoot, `run-${++fileCounter}`, 'nested', 'jobs.db');

afterAll(() => {
  rmSync(tempRoot, { recursive: true, force: true });
});

describeJobStoreContract('sqlite::memory:', () => createJobStore('sqlite::memory:'));
describeJobStoreContract('sqlite file', () => createJobStore(`sqlite:${freshDbPath()}`));

const submitted = {
  owner: 'alice',
  request: { input: 'https://example.com/a.png', options: { prompt: 'paint it red', model: 'v2' as const } },
  requestHash: 'hash-persist',
  idempotencyKey: 'persist-key',
  upstream: { upstreamId: 7, status: 'ACCEPTED' as const, createdAt: new Date(1_700_000_000_000), errors: [], result: null },
  at: new Date(1_700_000_000_500),
};

describe('SqliteJobStore on a file', () => {
  it('keeps jobs, their progress and idempotency keys across close and reopen', async () => {
    const path = freshDbPath();
    const first = await createJobStore(`sqlite:${path}`);
    await first.claimIdempotencyKey('alice', 'persist-key', 'hash-persist', submitted.at);
    const job = await first.insert(submitted);
    const applied = await first.applyUpstreamState(
      job.id,
      { ...submitted.upstream, status: 'PROCESSING' },
      new Date(1_700_000_001_000),
    );
    await first.close();

    const second = await createJobStore(`sqlite:${path}`);
    try {
      const [found] = await second.findByIds([job.id]);
      expect(found).toEqual(applied?.job);
      expect(found?.history.map((h) => h.status)).toEqual(['ACCEPTED', 'PROCESSING']);
      expect(await second.claimIdempotencyKey('alice', 'persist-key', 'hash-persist', new Date())).toEqual({
        claimed: false,
        requestHash: 'hash-persist',
        jobId: job.id,
      });
      expect((await second.listUnfinished()).map((j) => j.id)).toEqual([job.id]);
    } finally {
      await second.close();
    }
  });

  it('records each migration once and runs in WAL mode with foreign keys on', async () => {
    const path = freshDbPath();
    await (await createJobStore(`sqlite:${path}`)).close();
    const reopened = await createJobStore(`sqlite:${path}`);
    await reopened.migrate();
    await reopened.close();

    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual([{ version: 1 }]);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const indexes = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'`).all() as { name: string }[]).map((r) => r.name);
      expect(indexes).toEqual(expect.arrayContaining(['jobs_owner_created', 'jobs_unfinished']));
    } finally {
      db.close();
    }
  });

  it('serves listJobs and listUnfinished from their indexes', async () => {
    const path = freshDbPath();
    await (await createJobStore(`sqlite:${path}`)).close();
    const db = new Database(path, { readonly: true });
    try {
      const plan = (sql: string): string =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
      expect(
        plan(`SELECT * FROM jobs WHERE owner = 'a' AND (created_at, id) < (1, 'x') ORDER BY created_at DESC, id DESC LIMIT 11`),
      ).toMatch(/USING INDEX jobs_owner_created/);
      expect(
        plan(`SELECT * FROM jobs WHERE status NOT IN ('DONE', 'ERROR', 'CANCELLED') ORDER BY created_at ASC, id ASC LIMIT -1`),
      ).toMatch(/USING INDEX jobs_unfinished/);
    } finally {
      db.close();
    }
  });

  it('lets exactly one of two stores on the same file claim a key', async () => {
    const path = freshDbPath();
    const a = await createJobStore(`sqlite:${path}`);
    const b = new SqliteJobStore(path);
    try {
      await b.migrate();
      const claims = await Promise.all([
        a.claimIdempotencyKey('alice', 'shared', 'hash-a', new Date()),
        b.claimIdempotencyKey('alice', 'shared', 'hash-b', new Date()),
      ]);
      expect(claims.filter((c) => c.claimed)).toHaveLength(1);
      const job = await a.insert({ ...submitted, idempotencyKey: null });
      expect((await b.findByIds([job.id]))[0]?.id).toBe(job.id);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('createJobStore', () => {
  it('refuses PostgreSQL for now with a clear message', async () => {
    await expect(createJobStore('postgres://user:secret@localhost:5432/gateway')).rejects.toThrow(
      'PostgreSQL support arrives with the scale-out work',
    );
  });

  it('refuses an unknown scheme without echoing the URL', async () => {
    const attempt = createJobStore('mysql://user:secret@localhost/db');
    await expect(attempt).rejects.toThrow(/unsupported scheme "mysql:"/);
    await expect(attempt).rejects.not.toThrow(/secret/);
    await expect(createJobStore('sqlite:')).rejects.toThrow(/needs a path/);
  });

  it('returns a migrated store ready for use', async () => {
    const store = await createJobStore('sqlite::memory:');
    try {
      await expect(store.ping()).resolves.toBeUndefined();
      expect(await store.listUnfinished()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
