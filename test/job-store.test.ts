import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../src/domain/job.js';
import type { JobStore, NewJob } from '../src/services/store/job-store.js';
import { createJobStore } from '../src/services/store/job-store-factory.js';
import { PostgresJobStore } from '../src/services/store/postgres-job-store.js';
import { PostgresPool } from '../src/services/store/postgres-pool.js';
import { SqliteJobStore } from '../src/services/store/sqlite-job-store.js';
import {
  describeCallerCountersContract,
  expectCountersAgree,
  failed,
  queued,
  RESULT,
  TODAY,
  upstream,
} from './support/caller-counters-contract.js';
import { describeJobStoreContract } from './support/job-store-contract.js';
import { PostgresTestDatabase, testPostgresUrl } from './support/postgres.js';
import { describeUploadStoreContract } from './support/upload-store-contract.js';

const tempRoot = mkdtempSync(join(tmpdir(), 'job-store-test-'));
let fileCounter = 0;
/** A database path in a directory that does not exist yet, so the store must create it. */
const freshDbPath = (): string => join(tempRoot, `run-${++fileCounter}`, 'nested', 'jobs.db');

/** Set when TEST_POSTGRES_URL is: each PostgreSQL test gets a schema of its own, dropped after it. */
const postgres = testPostgresUrl === undefined ? undefined : new PostgresTestDatabase(testPostgresUrl);

afterEach(async () => {
  await postgres?.dropSchemas();
});

afterAll(async () => {
  rmSync(tempRoot, { recursive: true, force: true });
  await postgres?.end();
});

interface Backend {
  name: string;
  /** Why the backend's suites are skipped, or null when they run. */
  skip: string | null;
  open: () => Promise<JobStore>;
  /** A store migrated only through `version`: a database as an earlier release left it. */
  openAt: (version: number) => Promise<JobStore>;
  /** The last migration before the per-caller counters. */
  versionBeforeCounters: number;
}

async function sqliteAt(path: string, version: number): Promise<JobStore> {
  const store = new SqliteJobStore(path);
  await store.migrate(version);
  return store;
}

const BACKENDS: Backend[] = [
  {
    name: 'sqlite::memory:',
    skip: null,
    open: () => createJobStore('sqlite::memory:'),
    openAt: (version) => sqliteAt(':memory:', version),
    versionBeforeCounters: 7,
  },
  {
    name: 'sqlite file',
    skip: null,
    open: () => createJobStore(`sqlite:${freshDbPath()}`),
    openAt: (version) => sqliteAt(freshDbPath(), version),
    versionBeforeCounters: 7,
  },
  {
    name: 'postgres (a fresh schema per test)',
    skip: postgres ? null : 'set TEST_POSTGRES_URL to run',
    open: () => postgres!.openStore(),
    openAt: async (version) => {
      const store = postgres!.store();
      await store.migrate(version);
      return store;
    },
    versionBeforeCounters: 6,
  },
];

// The same contract on every backend; an unavailable one is listed with its tests reported as skipped.
describe.each(BACKENDS)('store on $name', ({ name, skip, open, openAt, versionBeforeCounters }) => {
  describe.skipIf(skip !== null)(skip === null ? 'available' : `skipped: ${skip}`, () => {
    describeJobStoreContract(name, open);
    describeUploadStoreContract(name, open);
    describeCallerCountersContract(name, open, openAt, versionBeforeCounters);
  });
});

const submitted: NewJob = {
  owner: 'alice',
  request: { input: 'https://example.com/a.png', options: { prompt: 'paint it red', model: 'v2' } },
  requestHash: 'hash-persist',
  idempotencyKey: 'persist-key',
  upstream: { upstreamId: 7, status: 'ACCEPTED', createdAt: new Date(1_700_000_000_000), errors: [], result: null },
  at: new Date(1_700_000_000_500),
};

describe.each(BACKENDS)('$name: lookups made at once', ({ skip, open }) => {
  // PostgreSQL answers the lookups of one turn with one query (postgres-job-reads.ts): each caller still gets its
  // own order, its nulls and Job objects of its own.
  it.skipIf(skip !== null)('answers each in its own order, with objects of its own', async () => {
    const store = await open();
    try {
      const jobs = await Promise.all(
        [0, 1, 2].map((i) => store.insert({ ...submitted, idempotencyKey: `at-once-${i}` })),
      );
      const [a, b, c] = jobs.map((job) => job.id) as [string, string, string];
      const unknown = '00000000-0000-4000-8000-000000000000';
      const lookups = [[a], [c, unknown, a], [], [b, b], [unknown]];
      const answers = await Promise.all(lookups.map((ids) => store.findByIds(ids)));
      expect(answers.map((found) => found.map((job) => job?.id ?? null))).toEqual([
        [a],
        [c, null, a],
        [],
        [b, b],
        [null],
      ]);
      expect(answers[1]![2]).toEqual(jobs[0]);
      expect(answers[1]![2]).not.toBe(answers[0]![0]);
    } finally {
      await store.close();
    }
  });
});

describe.each(BACKENDS)('$name: text the upstream may accept', ({ skip, open }) => {
  it.skipIf(skip !== null)('round-trips any string JSON can carry, including NUL and lone surrogates', async () => {
    const store = await open();
    try {
      const odd = 'add a duck \u0000 \ud800 \udfff 🦆 "quoted" \\ \n end';
      const job = await store.insert({
        ...submitted,
        request: { ...submitted.request, options: { prompt: odd } },
        upstream: { ...submitted.upstream, errors: [{ message: odd, createdAt: new Date(1) }] },
      });
      const [found] = await store.findByIds([job.id]);
      expect(found?.request.options.prompt).toBe(odd);
      expect(found?.errors[0]?.message).toBe(odd);
      expect(found).toEqual(job);
      const again = await store.applyUpstreamState(
        job.id,
        { ...submitted.upstream, errors: [{ message: odd, createdAt: new Date(1) }] },
        new Date(2),
      );
      expect(again?.changed).toBe(false);
    } finally {
      await store.close();
    }
  });
});

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
      expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual([
        { version: 1 },
        { version: 2 },
        { version: 3 },
        { version: 4 },
        { version: 5 },
        { version: 6 },
        { version: 7 },
        { version: 8 },
      ]);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const indexes = (
        db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'`).all() as {
          name: string;
        }[]
      ).map((r) => r.name);
      expect(indexes).toEqual(expect.arrayContaining(['jobs_owner_created', 'jobs_unfinished', 'jobs_waiting']));
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
        plan(
          `SELECT * FROM jobs WHERE owner = 'a' AND (created_at, id) < (1, 'x') ORDER BY created_at DESC, id DESC LIMIT 11`,
        ),
      ).toMatch(/USING INDEX jobs_owner_created/);
      expect(
        plan(
          `SELECT * FROM jobs WHERE status NOT IN ('DONE', 'ERROR', 'CANCELLED') ORDER BY created_at ASC, id ASC LIMIT -1`,
        ),
      ).toMatch(/USING INDEX jobs_unfinished/);
      // The counts every submit reads (MAX_UNFINISHED_JOBS, MAX_CREDITS_PER_DAY) are one counter row each.
      expect(plan(`SELECT unfinished FROM caller_job_counts WHERE owner = 'a'`)).toMatch(
        /SEARCH caller_job_counts USING PRIMARY KEY \(owner=\?\)/,
      );
      expect(plan(`SELECT sum(images) FROM caller_day_credits WHERE owner = 'a' AND day >= 20000`)).toMatch(
        /SEARCH caller_day_credits USING PRIMARY KEY \(owner=\? AND day>\?\)/,
      );
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

describe('SqliteJobStore: an answer planned against a basis', () => {
  // The outcome is the same either way (the contract's basis cases); what shows the path taken is a field the guard
  // does not hold: written against the basis, the answer is the basis's job moved on, with no read of the row.
  const marked = (job: Job): Job => ({ ...job, requestHash: 'as-the-caller-saw-it' });

  it("writes a submit's answer and a poll against the basis without reading the row back", async () => {
    const store = new SqliteJobStore(':memory:');
    try {
      await store.migrate();
      const recorded = await store.insertQueued({ ...submitted, idempotencyKey: null, sendStartedAt: submitted.at });
      const at = new Date(submitted.at.getTime() + 40);
      const answered = await store.applyUpstreamState(recorded.id, submitted.upstream, at, true, marked(recorded));
      expect(answered?.job).toMatchObject({ requestHash: 'as-the-caller-saw-it', upstreamId: 7, status: 'ACCEPTED' });
      const [stored] = await store.findByIds([recorded.id]);
      expect(stored).toEqual({ ...answered!.job, requestHash: 'hash-persist' });

      const later = new Date(at.getTime() + 1000);
      const polled = await store.applyUpstreamState(recorded.id, submitted.upstream, later, false, marked(stored!));
      expect(polled).toEqual({ job: { ...marked(stored!), lastPolledAt: later }, changed: false });
    } finally {
      await store.close();
    }
  });

  it('reads the row when it has moved on from the basis', async () => {
    const store = new SqliteJobStore(':memory:');
    try {
      await store.migrate();
      const recorded = await store.insertQueued({ ...submitted, idempotencyKey: null, sendStartedAt: submitted.at });
      const at = new Date(submitted.at.getTime() + 40);
      await store.applyUpstreamState(recorded.id, submitted.upstream, at, true);
      // The basis is the job before its answer landed: its status and task id no longer hold.
      const again = await store.applyUpstreamState(recorded.id, submitted.upstream, at, true, marked(recorded));
      expect(again?.job).toMatchObject({ requestHash: 'hash-persist', upstreamId: 7, status: 'ACCEPTED' });
    } finally {
      await store.close();
    }
  });
});

describe('PostgresJobStore: a submit answer against the recorded job', () => {
  // As for SQLite above: a field the guard does not hold shows that the answer was written in one statement against
  // the basis (the locking transaction would read the row's).
  it.skipIf(!postgres)(
    'writes it in one statement while the row is the job as recorded, else plans on the row',
    async () => {
      const store = await postgres!.openStore();
      try {
        const recorded = await store.insertQueued({ ...submitted, idempotencyKey: null, sendStartedAt: submitted.at });
        const at = new Date(submitted.at.getTime() + 40);
        const marked = { ...recorded, requestHash: 'as-the-caller-saw-it' };
        const answered = await store.applyUpstreamState(recorded.id, submitted.upstream, at, true, marked);
        expect(answered?.job).toMatchObject({ requestHash: 'as-the-caller-saw-it', upstreamId: 7, status: 'ACCEPTED' });
        const [stored] = await store.findByIds([recorded.id]);
        expect(stored).toEqual({ ...answered!.job, requestHash: 'hash-persist' });
        // The same basis again: the row has moved on (ACCEPTED, a task id), so the row is what is planned against.
        const again = await store.applyUpstreamState(recorded.id, submitted.upstream, at, true, marked);
        expect(again?.job).toMatchObject({ requestHash: 'hash-persist', upstreamId: 7, status: 'ACCEPTED' });
      } finally {
        await store.close();
      }
    },
  );
});

describe('createJobStore', () => {
  it('never puts the password of a postgres URL into an error', async () => {
    for (const url of [
      'postgres://u:hunter2@127.0.0.1:1/x',
      'postgresql://u:hunter2@127.0.0.1:1/x?sslmode=disable',
      'postgres://u:hunter2@[::1/x',
      'postgres://u:hunter2@127.0.0.1:1/x?options=%zz',
    ]) {
      const error = await createJobStore(url).then(
        (store) => {
          void store.close();
          throw new Error(`${url.replace('hunter2', '***')} opened a store`);
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      const seen = [
        String(error),
        (error as Error).stack,
        JSON.stringify(error),
        JSON.stringify({ ...(error as object) }),
      ];
      for (const text of seen) expect(text).not.toContain('hunter2');
    }
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

describe.skipIf(postgres === undefined)('PostgresJobStore (TEST_POSTGRES_URL)', () => {
  const db = postgres!;

  async function withStores<T>(stores: PostgresJobStore[], work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } finally {
      for (const store of stores) await store.close();
    }
  }

  it('lets exactly one of two instances claim a key, however the claims interleave', async () => {
    const schema = db.newSchema();
    const a = await db.openStore(schema);
    const b = await db.openStore(schema);
    await withStores([a, b], async () => {
      for (let round = 0; round < 20; round++) {
        const key = `race-${round}`;
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            (i % 2 === 0 ? a : b).claimIdempotencyKey('alice', key, `hash-${i}`, new Date(i)),
          ),
        );
        const winners = claims.flatMap((claim, i) => (claim.claimed ? [i] : []));
        expect(winners, key).toHaveLength(1);
        for (const claim of claims) {
          if (!claim.claimed) expect(claim).toEqual({ claimed: false, requestHash: `hash-${winners[0]}`, jobId: null });
        }
      }
    });
  });

  it('submits once per key when two instances run claim-then-insert at the same time', async () => {
    const schema = db.newSchema();
    const a = await db.openStore(schema);
    const b = await db.openStore(schema);
    await withStores([a, b], async () => {
      const submit = async (store: JobStore, key: string): Promise<string | null> => {
        const claim = await store.claimIdempotencyKey('alice', key, 'hash-persist', new Date());
        if (!claim.claimed) return claim.jobId;
        return (await store.insert({ ...submitted, idempotencyKey: key })).id;
      };
      const keys = Array.from({ length: 10 }, (_, i) => `submit-${i}`);
      await Promise.all(keys.flatMap((key) => [submit(a, key), submit(b, key), submit(a, key), submit(b, key)]));
      const { rows } = await db.admin.query<{ idempotency_key: string; n: string }>(
        `SELECT idempotency_key, count(*) AS n FROM "${schema}".jobs GROUP BY idempotency_key ORDER BY idempotency_key`,
      );
      expect(rows.map((r) => [r.idempotency_key, Number(r.n)])).toEqual(keys.sort().map((k) => [k, 1]));
      for (const key of keys) {
        const claim = await b.claimIdempotencyKey('alice', key, 'hash-persist', new Date());
        expect(claim.claimed).toBe(false);
        if (!claim.claimed) expect((await a.findByIds([claim.jobId ?? '']))[0]?.idempotencyKey).toBe(key);
      }
    });
  });

  it("keeps the per-caller counters exact, without deadlocks, while two instances write the same owners' jobs at once", async () => {
    const schema = db.newSchema();
    const a = await db.openStore(schema);
    const b = await db.openStore(schema);
    await withStores([a, b], async () => {
      const owners = ['alice', 'bob', 'carol'];
      const unknown = { code: 'UPSTREAM_OUTCOME_UNKNOWN', message: 'unknown' };
      // Every kind of write at once: inserts, a submit's answer, final statuses with and without a result,
      // discards, and both instances ending "unsettled" submits (several owners in one transaction) meanwhile.
      const lifecycle = async (i: number): Promise<void> => {
        const store = i % 2 === 0 ? a : b;
        const owner = owners[i % owners.length]!;
        const atMs = TODAY + 1_000 * i;
        const job = await store.insertQueued(queued(owner, atMs, 1 + (i % 4)));
        if (i % 5 === 0) return store.discardQueued(job.id);
        await store.applyUpstreamState(job.id, upstream({ upstreamId: i }), new Date(atMs + 1), true);
        const end = [
          upstream({ upstreamId: i, status: 'DONE', result: RESULT }),
          failed(atMs + 2),
          upstream({ upstreamId: i, status: 'PROCESSING' }),
          failed(atMs + 2, RESULT),
        ][i % 4]!;
        await store.applyUpstreamState(job.id, end, new Date(atMs + 2));
      };
      for (let round = 0; round < 3; round++) {
        const base = round * 60;
        await Promise.all([
          ...Array.from({ length: 60 }, (_, i) => lifecycle(base + i)),
          a.endUnsettledSubmits({ sentBefore: new Date(TODAY + 1_000 * (base + 30)) }, unknown, new Date(TODAY)),
          b.endUnsettledSubmits({ sentBefore: new Date(TODAY + 1_000 * (base + 60)) }, unknown, new Date(TODAY)),
        ]);
        await expectCountersAgree(a, owners);
      }
      const figures = await expectCountersAgree(b, owners);
      // Credits were counted at all (how many each owner keeps depends on which writes won the races).
      expect(Object.values(figures).some((f) => f.today > 0)).toBe(true);
    });
  });

  it('a connection that breaks inside a transaction fails that transaction, not the process', async () => {
    const pool = new PostgresPool({ connectionString: db.url });
    try {
      const outcome = pool.transaction(async (client) => {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await db.admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        // The connection ends while no statement of this transaction is in flight.
        await sleep(300);
        await client.query('SELECT 1');
      });
      await expect(outcome).rejects.toThrow();
      // The pool goes on with a connection of its own.
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it("holds a caller's counter row only while a write commits, not across the rest of its transaction", async () => {
    const schema = db.newSchema();
    const store = await db.openStore(schema);
    await withStores([store], async () => {
      const first = await store.insertQueued(queued('alice', TODAY, 1));
      const second = await store.insertQueued(queued('alice', TODAY + 1, 1));
      for (const [i, job] of [first, second].entries())
        await store.applyUpstreamState(job.id, upstream({ upstreamId: i + 1 }), new Date(TODAY + 10), true);
      // An instance's transaction ends alice's first job and has not committed yet (as while its process waits
      // for the CPU between the UPDATE and the COMMIT).
      const open = new pg.Client({ connectionString: db.url });
      await open.connect();
      try {
        await open.query(`SET search_path TO "${schema}"`);
        await open.query('BEGIN');
        await open.query(`UPDATE jobs SET status = 'DONE', result = $2::json WHERE id = $1`, [
          first.id,
          JSON.stringify(RESULT),
        ]);
        // Meanwhile another write ends her second job: it must not wait for that transaction.
        const ended = store.applyUpstreamState(
          second.id,
          upstream({ upstreamId: 2, status: 'DONE', result: RESULT }),
          new Date(TODAY + 20),
        );
        const outcome = await Promise.race([ended.then(() => 'written'), sleep(2_000).then(() => 'waited')]);
        expect(outcome).toBe('written');
        await open.query('COMMIT');
      } finally {
        await open.end();
      }
      expect((await expectCountersAgree(store, ['alice'])).alice).toMatchObject({ unfinished: 0 });
    });
  });

  it('keeps the first job on a key when a second insert names it', async () => {
    const store = await db.openStore();
    await withStores([store], async () => {
      const first = await store.insert({ ...submitted, idempotencyKey: 'twice' });
      const second = await store.insert({ ...submitted, idempotencyKey: 'twice', requestHash: 'other' });
      expect(second.idempotencyKey).toBe('twice');
      expect(await store.claimIdempotencyKey('alice', 'twice', 'x', new Date())).toEqual({
        claimed: false,
        requestHash: 'hash-persist',
        jobId: first.id,
      });
    });
  });

  it('migrates safely when several instances start at once on an empty schema', async () => {
    const schema = db.newSchema();
    const stores = Array.from({ length: 4 }, () => db.store(schema));
    await withStores(stores, async () => {
      await Promise.all(stores.map((store) => store.migrate()));
      await Promise.all(stores.map((store) => store.migrate()));
      const { rows } = await db.admin.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      expect(rows).toEqual([
        { version: 1 },
        { version: 2 },
        { version: 3 },
        { version: 4 },
        { version: 5 },
        { version: 6 },
        { version: 7 },
        { version: 8 },
      ]);
      const indexes = await db.admin.query<{ indexname: string }>(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`,
        [schema],
      );
      expect(indexes.rows.map((r) => r.indexname)).toEqual(
        expect.arrayContaining([
          'jobs_owner_created',
          'jobs_unfinished',
          'jobs_waiting',
          'idempotency_keys_pkey',
          'idempotency_keys_created',
        ]),
      );
      const job = await stores[0]!.insert(submitted);
      expect((await stores[3]!.findByIds([job.id]))[0]).toEqual(job);
    });
  });

  it('keeps jobs, their progress and idempotency keys across close and reopen', async () => {
    const schema = db.newSchema();
    const first = await db.openStore(schema);
    let job: Awaited<ReturnType<JobStore['insert']>>;
    let applied: Awaited<ReturnType<JobStore['applyUpstreamState']>>;
    await withStores([first], async () => {
      await first.claimIdempotencyKey('alice', 'persist-key', 'hash-persist', submitted.at);
      job = await first.insert(submitted);
      applied = await first.applyUpstreamState(
        job.id,
        { ...submitted.upstream, status: 'PROCESSING' },
        new Date(1_700_000_001_007),
      );
    });
    const second = await db.openStore(schema);
    await withStores([second], async () => {
      const [found] = await second.findByIds([job.id]);
      expect(found).toEqual(applied?.job);
      expect(found?.lastPolledAt.getTime()).toBe(1_700_000_001_007);
      expect(found?.history.map((h) => h.status)).toEqual(['ACCEPTED', 'PROCESSING']);
      expect(await second.claimIdempotencyKey('alice', 'persist-key', 'hash-persist', new Date())).toEqual({
        claimed: false,
        requestHash: 'hash-persist',
        jobId: job.id,
      });
      expect((await second.listUnfinished()).map((j) => j.id)).toEqual([job.id]);
      const page = await second.listJobs({
        owner: 'alice',
        limit: 1,
        before: { createdAt: new Date(job.createdAt.getTime() - 1), id: job.id },
      });
      expect(page.jobs.map((j) => j.id)).toEqual([job.id]);
    });
  });

  it('never moves a status backwards when two instances apply answers to one job at once', async () => {
    const schema = db.newSchema();
    const a = await db.openStore(schema);
    const b = await db.openStore(schema);
    await withStores([a, b], async () => {
      for (let round = 0; round < 10; round++) {
        const job = await a.insert(submitted);
        const answers = [
          a.applyUpstreamState(job.id, { ...submitted.upstream, status: 'WAITING' }, new Date(2000)),
          b.applyUpstreamState(
            job.id,
            { ...submitted.upstream, status: 'DONE', result: { inputObject: {}, outputObjects: [] } },
            new Date(3000),
          ),
          a.applyUpstreamState(job.id, { ...submitted.upstream, status: 'PROCESSING' }, new Date(2500)),
          b.applyUpstreamState(
            job.id,
            { ...submitted.upstream, status: 'DONE', result: { inputObject: {}, outputObjects: [] } },
            new Date(3100),
          ),
        ];
        const results = await Promise.all(answers);
        const [found] = await b.findByIds([job.id]);
        expect(found?.status).toBe('DONE');
        expect(found?.history.at(-1)?.status).toBe('DONE');
        expect(found?.history.filter((h) => h.status === 'DONE')).toHaveLength(1);
        expect(results.filter((r) => r?.changed && r.job.status === 'DONE')).toHaveLength(1);
      }
    });
  });

  it('serves listJobs and listUnfinished from their indexes', async () => {
    const schema = db.newSchema();
    await (await db.openStore(schema)).close();
    const client = await db.admin.connect();
    try {
      await client.query(`SET search_path TO "${schema}"`);
      await client.query('SET enable_seqscan = off');
      const plan = async (sql: string): Promise<string> =>
        (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(
        await plan(
          `SELECT * FROM jobs WHERE owner = 'a' AND (created_at, id) < (1::bigint, 'x'::text) ORDER BY created_at DESC, id DESC LIMIT 11`,
        ),
      ).toMatch(/jobs_owner_created/);
      expect(
        await plan(
          `SELECT * FROM jobs WHERE status NOT IN ('DONE', 'ERROR', 'CANCELLED') ORDER BY created_at ASC, id ASC LIMIT NULL`,
        ),
      ).toMatch(/jobs_unfinished/);
    } finally {
      await client.query('RESET ALL');
      client.release();
    }
  });

  it('is what createJobStore opens for postgres:// and postgresql:// URLs, in the search_path schema', async () => {
    const schema = await db.createSchema();
    const url = db.urlWithSearchPath(schema);
    const viaPostgres = await createJobStore(url);
    const viaPostgresql = await createJobStore(url.replace(/^postgres:/, 'postgresql:'));
    await withStores([viaPostgres as PostgresJobStore, viaPostgresql as PostgresJobStore], async () => {
      expect(viaPostgres).toBeInstanceOf(PostgresJobStore);
      await expect(viaPostgres.ping()).resolves.toBeUndefined();
      const job = await viaPostgres.insert(submitted);
      expect((await viaPostgresql.findByIds([job.id]))[0]).toEqual(job);
      const { rows } = await db.admin.query(`SELECT count(*)::int AS n FROM "${schema}".jobs`);
      expect(rows).toEqual([{ n: 1 }]);
    });
  });

  it('fails ping, without the password, when the database cannot be reached', async () => {
    const store = new PostgresJobStore({
      connectionString: 'postgres://u:hunter2@127.0.0.1:1/x',
      connectionTimeoutMs: 1000,
    });
    await withStores([store], async () => {
      const error = await store.ping().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect(`${String(error)} ${(error as Error).stack} ${JSON.stringify(error)}`).not.toContain('hunter2');
    });
    expect(() => new PostgresJobStore({ connectionString: 'postgres://x@127.0.0.1/x', schema: 'bad"; DROP' })).toThrow(
      /schema/,
    );
  });
});
