import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  AiEditError,
  AiEditRequest,
  AiEditResult,
  Job,
  JobStatus,
  UpstreamTaskState,
} from '../../src/domain/job.js';
import type { JobCursor, JobStore, ListJobsPage, NewJob } from '../../src/services/store/job-store.js';

// The behaviour every JobStore must share, whatever database is underneath. `makeStore` must return a migrated,
// empty store of its own for each test (listUnfinished and expiry see the whole store); the suite closes it.

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);

const BASIC_REQUEST: AiEditRequest = {
  input: 'https://example.com/in.png',
  options: { prompt: 'make the sky purple' },
};

const FULL_REQUEST: AiEditRequest = {
  input: 'storage://my-bucket/in/cat.png',
  output: { destination: 'storage://my-bucket/out/', format: 'png', numberOfImages: 3 },
  options: {
    prompt: 'a cat wearing a tiny hat',
    model: 'v1',
    aspectRatio: '16:9',
    inferenceSteps: 30,
    guidanceScale: 7.5,
  },
};

const FULL_RESULT: AiEditResult = {
  inputObject: { ext: 'png', mps: 1.04, mime: 'image/png', format: 'PNG', width: 1020, height: 1020 },
  outputObjects: [
    {
      ext: 'png',
      mps: 1.04,
      mime: 'image/png',
      format: 'PNG',
      width: 1360,
      height: 768,
      tmpUrl: 'https://storage.googleapis.com/claid-tmp/out-0.png?sig=abc',
      objectKey: 'out/out-0.png',
      objectBucket: 'my-bucket',
      objectUri: 'gs://my-bucket/out/out-0.png',
      claidStorageUri: 'storage://my-bucket/out/out-0.png',
    },
    { ext: 'png', width: 1360, height: 768, tmpUrl: 'https://storage.googleapis.com/claid-tmp/out-1.png' },
  ],
};

const OTHER_RESULT: AiEditResult = {
  inputObject: { ext: 'jpeg', width: 10, height: 10 },
  outputObjects: [{ ext: 'jpeg', tmpUrl: 'https://example.com/other.jpeg' }],
};

function upstream(overrides: Partial<UpstreamTaskState> = {}): UpstreamTaskState {
  return { upstreamId: 101, status: 'ACCEPTED', createdAt: at(0), errors: [], result: null, ...overrides };
}

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    owner: 'alice',
    request: BASIC_REQUEST,
    requestHash: 'hash-basic',
    idempotencyKey: null,
    upstream: upstream(),
    at: at(0),
    ...overrides,
  };
}

const cursor = (job: Job): JobCursor => ({ createdAt: job.createdAt, id: job.id });
const ids = (jobs: readonly (Job | null)[]): (string | null)[] => jobs.map((job) => job?.id ?? null);
/** The documented order, computed independently of any store: createdAt desc, then id desc. */
const newestFirst = (a: Job, b: Job): number =>
  b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export function describeJobStoreContract(name: string, makeStore: () => Promise<JobStore>): void {
  describe(`JobStore contract: ${name}`, () => {
    let store: JobStore;

    beforeEach(async () => {
      store = await makeStore();
    });

    afterEach(async () => {
      await store.close();
    });

    async function find(id: string): Promise<Job> {
      const [job] = await store.findByIds([id]);
      if (!job) throw new Error(`job ${id} not found`);
      return job;
    }

    describe('insert and findByIds', () => {
      it('assigns a fresh UUID and the initial state derived from the submit answer', async () => {
        const a = await store.insert(newJob({ at: at(5) }));
        const b = await store.insert(newJob({ at: at(5) }));
        expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(b.id).not.toBe(a.id);
        expect(a.status).toBe('ACCEPTED');
        expect(a.history).toEqual([{ status: 'ACCEPTED', at: at(5) }]);
        expect(a.createdAt).toEqual(at(5));
        expect(a.updatedAt).toEqual(at(5));
        expect(a.lastPolledAt).toEqual(at(5));
        expect(a.finishedAt).toBeNull();
      });

      it('returns one entry per id in the order asked, with null for unknown ids', async () => {
        const a = await store.insert(newJob());
        const b = await store.insert(newJob({ owner: 'bob' }));
        const unknown = randomUUID();
        const found = await store.findByIds([b.id, unknown, a.id, b.id]);
        expect(ids(found)).toEqual([b.id, null, a.id, b.id]);
        expect(found[0]).toEqual(b);
        expect(found[2]).toEqual(a);
        expect(await store.findByIds([])).toEqual([]);
        expect(await store.findByIds(['not-a-uuid'])).toEqual([null]);
      });

      it('round-trips every field, with Dates coming back as Dates', async () => {
        const errors: AiEditError[] = [
          { message: 'first warning', createdAt: new Date(T0 + 1234) },
          { message: 'second, with "quotes" and ünïcödé', createdAt: new Date(T0 + 5678) },
        ];
        const inserted = await store.insert({
          owner: 'owner-42',
          request: FULL_REQUEST,
          requestHash: 'sha256:full',
          idempotencyKey: 'key-full',
          upstream: { upstreamId: 987654, status: 'DONE', createdAt: at(-1000), errors, result: FULL_RESULT },
          at: at(777),
        });
        const expected: Job = {
          id: inserted.id,
          owner: 'owner-42',
          upstreamId: 987654,
          status: 'DONE',
          request: FULL_REQUEST,
          requestHash: 'sha256:full',
          idempotencyKey: 'key-full',
          errors,
          result: FULL_RESULT,
          history: [{ status: 'DONE', at: at(777) }],
          createdAt: at(777),
          updatedAt: at(777),
          lastPolledAt: at(777),
          finishedAt: at(777),
        };
        expect(inserted).toStrictEqual(expected);
        const found = await find(inserted.id);
        expect(found).toStrictEqual(expected);
        for (const date of [
          found.createdAt,
          found.updatedAt,
          found.lastPolledAt,
          found.finishedAt,
          found.history[0]?.at,
          found.errors[1]?.createdAt,
        ]) {
          expect(date).toBeInstanceOf(Date);
        }
        expect(found.errors[1]?.createdAt.getTime()).toBe(T0 + 5678);
      });

      it('keeps a job without idempotency key and result as nulls', async () => {
        const job = await store.insert(newJob());
        const found = await find(job.id);
        expect(found.idempotencyKey).toBeNull();
        expect(found.result).toBeNull();
        expect(found.errors).toEqual([]);
        expect(found.request).toStrictEqual(BASIC_REQUEST);
      });
    });

    describe('applyUpstreamState', () => {
      it('moves forward through the statuses, recording each in history', async () => {
        const job = await store.insert(newJob({ at: at(0) }));
        const steps: [JobStatus, number][] = [
          ['WAITING', 1000],
          ['PROCESSING', 2000],
          ['DONE', 3000],
        ];
        for (const [status, offset] of steps) {
          const applied = await store.applyUpstreamState(
            job.id,
            upstream({ status, result: status === 'DONE' ? FULL_RESULT : null }),
            at(offset),
          );
          expect(applied?.changed).toBe(true);
          expect(applied?.job.status).toBe(status);
          expect(applied?.job.updatedAt).toEqual(at(offset));
          expect(applied?.job.lastPolledAt).toEqual(at(offset));
        }
        const found = await find(job.id);
        expect(found.status).toBe('DONE');
        // Each change remembers when the status before it was last seen (the read before): it happened in between.
        expect(found.history).toEqual([
          { status: 'ACCEPTED', at: at(0) },
          { status: 'WAITING', at: at(1000), since: at(0) },
          { status: 'PROCESSING', at: at(2000), since: at(1000) },
          { status: 'DONE', at: at(3000), since: at(2000) },
        ]);
        expect(found.result).toEqual(FULL_RESULT);
        expect(found.finishedAt).toEqual(at(3000));
        expect(found.createdAt).toEqual(at(0));
      });

      it('records no `since` for an exact moment (a push): the change happened then', async () => {
        const job = await store.insert(newJob({ at: at(0) }));
        await store.applyUpstreamState(job.id, upstream({ status: 'PROCESSING', result: null }), at(1000));
        await store.applyUpstreamState(job.id, upstream({ status: 'DONE', result: FULL_RESULT }), at(4000), true);
        expect((await find(job.id)).history).toEqual([
          { status: 'ACCEPTED', at: at(0) },
          { status: 'PROCESSING', at: at(1000), since: at(0) },
          { status: 'DONE', at: at(4000) },
        ]);
      });

      it('may skip statuses and records an ERROR outcome with its errors', async () => {
        const job = await store.insert(newJob());
        const errors = [{ message: 'content policy', createdAt: at(1500) }];
        const applied = await store.applyUpstreamState(job.id, upstream({ status: 'ERROR', errors }), at(2000));
        expect(applied?.changed).toBe(true);
        const found = await find(job.id);
        expect(found.status).toBe('ERROR');
        expect(found.errors).toEqual(errors);
        expect(found.finishedAt).toEqual(at(2000));
        expect(found.history.map((h) => h.status)).toEqual(['ACCEPTED', 'ERROR']);
      });

      it('ignores a backward answer, including its errors and result, but records the poll', async () => {
        const job = await store.insert(newJob());
        await store.applyUpstreamState(job.id, upstream({ status: 'PROCESSING' }), at(1000));
        const applied = await store.applyUpstreamState(
          job.id,
          upstream({ status: 'WAITING', errors: [{ message: 'stale', createdAt: at(10) }], result: OTHER_RESULT }),
          at(2000),
        );
        expect(applied?.changed).toBe(false);
        expect(applied?.job.status).toBe('PROCESSING');
        const found = await find(job.id);
        expect(found).toEqual(applied?.job);
        expect(found.status).toBe('PROCESSING');
        expect(found.errors).toEqual([]);
        expect(found.result).toBeNull();
        expect(found.updatedAt).toEqual(at(1000));
        expect(found.lastPolledAt).toEqual(at(2000));
        expect(found.history.map((h) => h.status)).toEqual(['ACCEPTED', 'PROCESSING']);
      });

      it('never undoes DONE: later answers of any kind change nothing but lastPolledAt', async () => {
        const job = await store.insert(newJob());
        await store.applyUpstreamState(job.id, upstream({ status: 'DONE', result: FULL_RESULT }), at(3000));
        const late: [UpstreamTaskState, number][] = [
          [upstream({ status: 'PROCESSING' }), 4000],
          [upstream({ status: 'ERROR', errors: [{ message: 'late', createdAt: at(1) }] }), 5000],
          [upstream({ status: 'DONE', result: OTHER_RESULT }), 6000],
        ];
        for (const [state, offset] of late) {
          const applied = await store.applyUpstreamState(job.id, state, at(offset));
          expect(applied?.changed).toBe(false);
          expect(applied?.job.lastPolledAt).toEqual(at(offset));
        }
        const found = await find(job.id);
        expect(found.status).toBe('DONE');
        expect(found.result).toEqual(FULL_RESULT);
        expect(found.errors).toEqual([]);
        expect(found.finishedAt).toEqual(at(3000));
        expect(found.updatedAt).toEqual(at(3000));
        expect(found.lastPolledAt).toEqual(at(6000));
        expect(found.history.map((h) => h.status)).toEqual(['ACCEPTED', 'DONE']);
      });

      it('treats a duplicate answer as no change but still moves lastPolledAt', async () => {
        const job = await store.insert(newJob());
        const state = upstream({ status: 'PROCESSING', errors: [{ message: 'retrying', createdAt: at(900) }] });
        const first = await store.applyUpstreamState(job.id, state, at(1000));
        expect(first?.changed).toBe(true);
        const second = await store.applyUpstreamState(
          job.id,
          { ...state, errors: [{ message: 'retrying', createdAt: at(900) }] },
          at(2000),
        );
        expect(second?.changed).toBe(false);
        const found = await find(job.id);
        expect(found.lastPolledAt).toEqual(at(2000));
        expect(found.updatedAt).toEqual(at(1000));
        expect(found.history).toHaveLength(2);
      });

      it('records a read planned against a basis like any other: an unchanged answer moves only lastPolledAt', async () => {
        const job = await store.insert(newJob());
        const processing = upstream({ status: 'PROCESSING' });
        const moved = await store.applyUpstreamState(job.id, processing, at(1000));
        const basis = await find(job.id);
        const again = await store.applyUpstreamState(job.id, processing, at(2000), false, basis);
        expect(again).toEqual({ job: { ...basis, lastPolledAt: at(2000) }, changed: false });
        expect(await find(job.id)).toEqual({ ...moved!.job, lastPolledAt: at(2000) });
      });

      it('never answers from a basis the row has moved on from', async () => {
        const job = await store.insert(newJob());
        const stale = await find(job.id);
        // Another reader saw PROCESSING after `stale` was taken; this one still reads the old status.
        const moved = await store.applyUpstreamState(job.id, upstream({ status: 'PROCESSING' }), at(1000));
        const late = await store.applyUpstreamState(job.id, upstream(), at(2000), false, stale);
        expect(late?.changed).toBe(false);
        expect(late?.job).toEqual({ ...moved!.job, lastPolledAt: at(2000) });
        expect(late?.job.status).toBe('PROCESSING');
        // Errors changed with the status kept (updatedAt moved): the row, not the basis, is what the answer is
        // planned against, so the answer that clears them is a change.
        const errorsBasis = await find(job.id);
        const retrying = upstream({ status: 'PROCESSING', errors: [{ message: 'retrying', createdAt: at(2500) }] });
        await store.applyUpstreamState(job.id, retrying, at(3000));
        const behind = await store.applyUpstreamState(
          job.id,
          upstream({ status: 'PROCESSING' }),
          at(4000),
          false,
          errorsBasis,
        );
        expect(behind?.changed).toBe(true);
        expect(behind?.job.errors).toEqual([]);
        expect(await find(job.id)).toEqual(behind!.job);
        // A change planned against the stale basis (ACCEPTED → DONE) is planned again against the row.
        const done = await store.applyUpstreamState(
          job.id,
          upstream({ status: 'DONE', result: FULL_RESULT }),
          at(5000),
          false,
          stale,
        );
        expect(done?.job.history.map((h) => h.status)).toEqual(['ACCEPTED', 'PROCESSING', 'DONE']);
        expect(await find(job.id)).toEqual(done!.job);
      });

      it('writes a change planned against a basis in full', async () => {
        const job = await store.insert(newJob());
        const basis = await find(job.id);
        const done = await store.applyUpstreamState(
          job.id,
          upstream({ status: 'DONE', result: FULL_RESULT }),
          at(1000),
          false,
          basis,
        );
        expect(done?.changed).toBe(true);
        expect(await find(job.id)).toEqual(done!.job);
        expect(done?.job.history.map((h) => h.status)).toEqual(['ACCEPTED', 'DONE']);
      });

      it("queues a change's webhook event with the job as stored, planned against a basis or not", async () => {
        const webhook = { url: 'https://hooks.example/ai-edit', events: ['PROCESSING', 'DONE'] as const };
        const queuedJob = await store.insertQueued({ ...newJob(), at: at(0), sendStartedAt: at(0), webhook });
        await store.applyUpstreamState(queuedJob.id, upstream(), at(10), true);
        const basis = await find(queuedJob.id);
        const processing = await store.applyUpstreamState(
          queuedJob.id,
          upstream({ status: 'PROCESSING' }),
          at(1000),
          false,
          basis,
        );
        expect(processing?.changed).toBe(true);
        const done = await store.applyUpstreamState(
          queuedJob.id,
          upstream({ status: 'DONE', result: FULL_RESULT }),
          at(2000),
        );
        const deliveries = await store.callers.claimDueDeliveries(at(60_000), 30_000, 10);
        const byEvent = Object.fromEntries(deliveries.map((d) => [d.event, d]));
        expect(Object.keys(byEvent).sort()).toEqual(['DONE', 'PROCESSING']);
        expect(byEvent.PROCESSING).toMatchObject({ jobId: queuedJob.id, url: webhook.url, createdAt: at(1000) });
        expect(byEvent.PROCESSING!.job).toEqual(processing!.job);
        expect(byEvent.DONE!.job).toEqual(done!.job);
        expect(await find(queuedJob.id)).toEqual(done!.job);
      });

      it('reports a change of errors or result without a status change, and appends no history', async () => {
        const job = await store.insert(newJob());
        await store.applyUpstreamState(job.id, upstream({ status: 'PROCESSING' }), at(1000));

        const errors = [{ message: 'slow worker', createdAt: at(1500) }];
        const withErrors = await store.applyUpstreamState(job.id, upstream({ status: 'PROCESSING', errors }), at(2000));
        expect(withErrors?.changed).toBe(true);
        expect(withErrors?.job.errors).toEqual(errors);
        expect(withErrors?.job.updatedAt).toEqual(at(2000));

        const withResult = await store.applyUpstreamState(
          job.id,
          upstream({ status: 'PROCESSING', errors, result: FULL_RESULT }),
          at(3000),
        );
        expect(withResult?.changed).toBe(true);
        expect(withResult?.job.result).toEqual(FULL_RESULT);

        // The same result with its keys in another order is the same result.
        const shuffled: AiEditResult = {
          outputObjects: FULL_RESULT.outputObjects.map((o) => Object.fromEntries(Object.entries(o).reverse())),
          inputObject: Object.fromEntries(Object.entries(FULL_RESULT.inputObject).reverse()),
        };
        expect(Object.keys(shuffled)).not.toEqual(Object.keys(FULL_RESULT));
        const again = await store.applyUpstreamState(
          job.id,
          upstream({ status: 'PROCESSING', errors, result: shuffled }),
          at(4000),
        );
        expect(again?.changed).toBe(false);

        const cleared = await store.applyUpstreamState(job.id, upstream({ status: 'PROCESSING' }), at(5000));
        expect(cleared?.changed).toBe(true);
        const found = await find(job.id);
        expect(found.errors).toEqual([]);
        expect(found.result).toBeNull();
        expect(found.updatedAt).toEqual(at(5000));
        expect(found.history.map((h) => h.status)).toEqual(['ACCEPTED', 'PROCESSING']);
      });

      it('enters and leaves PAUSED from any unfinished status', async () => {
        const job = await store.insert(newJob());
        const path: JobStatus[] = ['PROCESSING', 'PAUSED', 'WAITING', 'PAUSED', 'PROCESSING', 'DONE'];
        for (const [i, status] of path.entries()) {
          const applied = await store.applyUpstreamState(job.id, upstream({ status }), at((i + 1) * 1000));
          expect(applied?.changed, `-> ${status}`).toBe(true);
        }
        const found = await find(job.id);
        expect(found.history.map((h) => h.status)).toEqual(['ACCEPTED', ...path]);
        expect(found.finishedAt).toEqual(at(path.length * 1000));
      });

      it('returns null for an unknown id', async () => {
        expect(await store.applyUpstreamState(randomUUID(), upstream({ status: 'DONE' }), at(1))).toBeNull();
      });
    });

    describe('listJobs', () => {
      const STATUSES: JobStatus[] = ['ACCEPTED', 'PROCESSING', 'DONE', 'PAUSED', 'ERROR'];
      let alice: Job[];
      let bob: Job[];

      beforeEach(async () => {
        alice = [];
        bob = [];
        // 25 jobs in groups of three sharing createdAt, so pages must break ties by id.
        for (let i = 0; i < 25; i++) {
          const status = STATUSES[i % STATUSES.length] ?? 'ACCEPTED';
          alice.push(
            await store.insert(
              newJob({ upstream: upstream({ upstreamId: i, status }), at: at(Math.floor(i / 3) * 1000) }),
            ),
          );
          if (i % 5 === 0) bob.push(await store.insert(newJob({ owner: 'bob', at: at(Math.floor(i / 3) * 1000) })));
        }
        alice.sort(newestFirst);
        bob.sort(newestFirst);
      });

      it("returns the caller's jobs newest first, as full jobs", async () => {
        const page = await store.listJobs({ owner: 'alice', limit: 100 });
        expect(ids(page.jobs)).toEqual(ids(alice));
        expect(page.hasMore).toBe(false);
        expect(page.jobs[7]).toEqual(alice[7]);
      });

      it('pages forward with after, breaking createdAt ties by id', async () => {
        // The page boundaries below fall inside a group of equal createdAt.
        expect(alice[4]?.createdAt).toEqual(alice[5]?.createdAt);
        expect(alice[14]?.createdAt).toEqual(alice[15]?.createdAt);
        const seen: (string | null)[] = [];
        const hasMore: boolean[] = [];
        let after: JobCursor | undefined;
        for (let guard = 0; guard < 10; guard++) {
          const page = await store.listJobs({ owner: 'alice', limit: 5, after });
          seen.push(...ids(page.jobs));
          hasMore.push(page.hasMore);
          const last = page.jobs.at(-1);
          if (!page.hasMore || !last) break;
          after = cursor(last);
        }
        expect(seen).toEqual(ids(alice));
        expect(hasMore).toEqual([true, true, true, true, false]);
      });

      it('reports hasMore exactly at the boundary', async () => {
        expect((await store.listJobs({ owner: 'alice', limit: 25 })).hasMore).toBe(false);
        expect((await store.listJobs({ owner: 'alice', limit: 24 })).hasMore).toBe(true);
        expect((await store.listJobs({ owner: 'alice', limit: 25, fromEnd: true })).hasMore).toBe(false);
        expect((await store.listJobs({ owner: 'alice', limit: 24, fromEnd: true })).hasMore).toBe(true);
        const tail = await store.listJobs({ owner: 'alice', limit: 5, after: cursor(alice[19]!) });
        expect(ids(tail.jobs)).toEqual(ids(alice.slice(20)));
        expect(tail.hasMore).toBe(false);
      });

      it('pages backward from the oldest end with fromEnd and before, still newest first', async () => {
        expect(alice[17]?.createdAt).toEqual(alice[18]?.createdAt);
        expect(alice[10]?.createdAt).toEqual(alice[11]?.createdAt);
        const pages: ListJobsPage[] = [];
        let before: JobCursor | undefined;
        for (let guard = 0; guard < 10; guard++) {
          const page = await store.listJobs({ owner: 'alice', limit: 7, before, fromEnd: true });
          pages.push(page);
          const first = page.jobs[0];
          if (!page.hasMore || !first) break;
          before = cursor(first);
        }
        expect(pages.map((p) => ids(p.jobs))).toEqual([
          ids(alice.slice(18, 25)),
          ids(alice.slice(11, 18)),
          ids(alice.slice(4, 11)),
          ids(alice.slice(0, 4)),
        ]);
        expect(pages.map((p) => p.hasMore)).toEqual([true, true, true, false]);
      });

      it('takes the newest items before a cursor without fromEnd, and windows between two cursors', async () => {
        const newest = await store.listJobs({ owner: 'alice', limit: 5, before: cursor(alice[12]!) });
        expect(ids(newest.jobs)).toEqual(ids(alice.slice(0, 5)));
        expect(newest.hasMore).toBe(true);

        const window = await store.listJobs({
          owner: 'alice',
          limit: 10,
          after: cursor(alice[2]!),
          before: cursor(alice[8]!),
        });
        expect(ids(window.jobs)).toEqual(ids(alice.slice(3, 8)));
        expect(window.hasMore).toBe(false);

        const windowFromEnd = await store.listJobs({
          owner: 'alice',
          limit: 2,
          after: cursor(alice[2]!),
          before: cursor(alice[8]!),
          fromEnd: true,
        });
        expect(ids(windowFromEnd.jobs)).toEqual(ids(alice.slice(6, 8)));
        expect(windowFromEnd.hasMore).toBe(true);
      });

      it('filters by status, also across pages', async () => {
        const done = await store.listJobs({ owner: 'alice', limit: 100, statuses: ['DONE'] });
        expect(done.jobs.length).toBe(5);
        expect(ids(done.jobs)).toEqual(ids(alice.filter((j) => j.status === 'DONE')));

        const finished = alice.filter((j) => j.status === 'DONE' || j.status === 'ERROR');
        const first = await store.listJobs({ owner: 'alice', limit: 4, statuses: ['DONE', 'ERROR'] });
        const second = await store.listJobs({
          owner: 'alice',
          limit: 4,
          statuses: ['DONE', 'ERROR'],
          after: cursor(first.jobs[3]!),
        });
        const third = await store.listJobs({
          owner: 'alice',
          limit: 4,
          statuses: ['DONE', 'ERROR'],
          after: cursor(second.jobs[3]!),
        });
        expect([...ids(first.jobs), ...ids(second.jobs), ...ids(third.jobs)]).toEqual(ids(finished));
        expect([first.hasMore, second.hasMore, third.hasMore]).toEqual([true, true, false]);

        const oldestPaused = await store.listJobs({ owner: 'alice', limit: 2, statuses: ['PAUSED'], fromEnd: true });
        expect(ids(oldestPaused.jobs)).toEqual(ids(alice.filter((j) => j.status === 'PAUSED').slice(-2)));
        expect(oldestPaused.hasMore).toBe(true);

        expect((await store.listJobs({ owner: 'alice', limit: 100, statuses: ['CANCELLED'] })).jobs).toEqual([]);
      });

      it('counts unfinished jobs per owner, at most the bound asked for', async () => {
        const unfinished = alice.filter((j) => !['DONE', 'ERROR', 'CANCELLED'].includes(j.status)).length;
        expect(unfinished).toBeGreaterThan(3);
        expect(await store.countUnfinished('alice', 1000)).toBe(unfinished);
        expect(await store.countUnfinished('alice', 3)).toBe(3);
        expect(await store.countUnfinished('alice', 0)).toBe(0);
        expect(await store.countUnfinished('bob', 1000)).toBe(
          bob.filter((j) => !['DONE', 'ERROR', 'CANCELLED'].includes(j.status)).length,
        );
        expect(await store.countUnfinished('nobody', 10)).toBe(0);
        const accepted = alice.find((j) => j.status === 'ACCEPTED')!;
        await store.applyUpstreamState(accepted.id, upstream({ status: 'DONE' }), at(60_000));
        expect(await store.countUnfinished('alice', 1000)).toBe(unfinished - 1);
      });

      it('follows a status change in the filter', async () => {
        const accepted = alice.find((j) => j.status === 'ACCEPTED')!;
        await store.applyUpstreamState(accepted.id, upstream({ status: 'CANCELLED' }), at(60_000));
        const cancelled = await store.listJobs({ owner: 'alice', limit: 100, statuses: ['CANCELLED'] });
        expect(ids(cancelled.jobs)).toEqual([accepted.id]);
      });

      it('scopes every query to its owner', async () => {
        const bobs = await store.listJobs({ owner: 'bob', limit: 100 });
        expect(ids(bobs.jobs)).toEqual(ids(bob));
        expect(bobs.jobs.every((j) => j.owner === 'bob')).toBe(true);
        const alices = await store.listJobs({ owner: 'alice', limit: 100, after: cursor(alice[0]!) });
        expect(alices.jobs.some((j) => j.owner !== 'alice')).toBe(false);
        expect(alices.jobs).toHaveLength(24);
        expect(await store.listJobs({ owner: 'nobody', limit: 10 })).toEqual({ jobs: [], hasMore: false });
        expect(await store.listJobs({ owner: 'nobody', limit: 10, fromEnd: true })).toEqual({
          jobs: [],
          hasMore: false,
        });
      });
    });

    describe('idempotency keys', () => {
      it('claims a key once; later claims see the first request hash', async () => {
        expect(await store.claimIdempotencyKey('alice', 'k1', 'hash-a', at(0))).toEqual({ claimed: true });
        expect(await store.claimIdempotencyKey('alice', 'k1', 'hash-a', at(1))).toEqual({
          claimed: false,
          requestHash: 'hash-a',
          jobId: null,
        });
        expect(await store.claimIdempotencyKey('alice', 'k1', 'hash-b', at(2))).toEqual({
          claimed: false,
          requestHash: 'hash-a',
          jobId: null,
        });
      });

      it('lets exactly one of several concurrent claims win', async () => {
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.claimIdempotencyKey('alice', 'race', `hash-${i}`, at(i))),
        );
        const winners = claims.flatMap((claim, i) => (claim.claimed ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const claim of claims) {
          if (!claim.claimed) expect(claim).toEqual({ claimed: false, requestHash: `hash-${winners[0]}`, jobId: null });
        }
      });

      it('keeps keys per owner', async () => {
        expect((await store.claimIdempotencyKey('alice', 'shared', 'h1', at(0))).claimed).toBe(true);
        expect((await store.claimIdempotencyKey('bob', 'shared', 'h2', at(0))).claimed).toBe(true);
        await store.releaseIdempotencyKey('bob', 'shared');
        expect(await store.claimIdempotencyKey('alice', 'shared', 'h3', at(1))).toEqual({
          claimed: false,
          requestHash: 'h1',
          jobId: null,
        });
      });

      it('returns the attached job to a claim made after the insert', async () => {
        expect((await store.claimIdempotencyKey('alice', 'k', 'hash-basic', at(0))).claimed).toBe(true);
        const job = await store.insert(newJob({ idempotencyKey: 'k', at: at(10) }));
        expect(await store.claimIdempotencyKey('alice', 'k', 'hash-basic', at(20))).toEqual({
          claimed: false,
          requestHash: 'hash-basic',
          jobId: job.id,
        });
        expect((await find(job.id)).idempotencyKey).toBe('k');
      });

      it('records the key of a job inserted without a live claim', async () => {
        const job = await store.insert(newJob({ idempotencyKey: 'unclaimed', requestHash: 'hash-u' }));
        expect(await store.claimIdempotencyKey('alice', 'unclaimed', 'hash-other', at(1))).toEqual({
          claimed: false,
          requestHash: 'hash-u',
          jobId: job.id,
        });
      });

      it('releases only a claim that has no job', async () => {
        await store.claimIdempotencyKey('alice', 'failed', 'hash-1', at(0));
        await store.releaseIdempotencyKey('alice', 'failed');
        expect(await store.claimIdempotencyKey('alice', 'failed', 'hash-2', at(1))).toEqual({ claimed: true });
        expect(await store.claimIdempotencyKey('alice', 'failed', 'hash-3', at(2))).toEqual({
          claimed: false,
          requestHash: 'hash-2',
          jobId: null,
        });

        await store.claimIdempotencyKey('alice', 'done', 'hash-basic', at(0));
        const job = await store.insert(newJob({ idempotencyKey: 'done' }));
        await store.releaseIdempotencyKey('alice', 'done');
        expect(await store.claimIdempotencyKey('alice', 'done', 'hash-basic', at(3))).toEqual({
          claimed: false,
          requestHash: 'hash-basic',
          jobId: job.id,
        });

        await expect(store.releaseIdempotencyKey('alice', 'never-claimed')).resolves.toBeUndefined();
        expect(await store.claimIdempotencyKey('alice', 'never-claimed', 'h', at(4))).toEqual({ claimed: true });
      });

      it('expires keys claimed strictly before the cutoff, with or without a job, and keeps the jobs', async () => {
        await store.claimIdempotencyKey('alice', 'k0', 'hash-basic', at(0));
        const job = await store.insert(newJob({ idempotencyKey: 'k0', at: at(0) }));
        await store.claimIdempotencyKey('alice', 'k1', 'h1', at(1000));
        await store.claimIdempotencyKey('bob', 'k2', 'h2', at(2000));

        expect(await store.expireIdempotencyKeys(at(1000))).toBe(1);
        expect(await store.claimIdempotencyKey('alice', 'k0', 'fresh', at(5000))).toEqual({ claimed: true });
        expect(await store.claimIdempotencyKey('alice', 'k1', 'other', at(5000))).toEqual({
          claimed: false,
          requestHash: 'h1',
          jobId: null,
        });
        expect(await find(job.id)).toEqual(job);

        expect(await store.expireIdempotencyKeys(at(1000))).toBe(0);
        expect(await store.expireIdempotencyKeys(at(10_000))).toBe(3);
        expect(await store.claimIdempotencyKey('bob', 'k2', 'h9', at(11_000))).toEqual({ claimed: true });
      });
    });

    describe('submits recorded before their upstream call', () => {
      const OUTCOME_UNKNOWN = { code: 'UPSTREAM_OUTCOME_UNKNOWN' as const, message: 'may have been charged' };
      const queued = (sentAt: Date | null) =>
        store.insertQueued({
          owner: 'alice',
          request: BASIC_REQUEST,
          requestHash: 'h',
          idempotencyKey: null,
          at: at(0),
          sendStartedAt: sentAt,
        });

      it('ends only sends older than the cutoff, except the ones a live process holds, as ERROR with the code', async () => {
        const old = await queued(at(0));
        const held = await queued(at(0));
        const recent = await queued(at(10_000));
        const ended = await store.endUnsettledSubmits(
          { sentBefore: at(5_000), except: [held.id] },
          OUTCOME_UNKNOWN,
          at(20_000),
        );
        expect(ended.map((j) => j.id)).toEqual([old.id]);
        const [oldNow, heldNow, recentNow] = await store.findByIds([old.id, held.id, recent.id]);
        expect(oldNow?.status).toBe('ERROR');
        expect(heldNow?.status).toBe('QUEUED');
        expect(recentNow?.status).toBe('QUEUED');
      });

      it("records a submit's answer planned against the job as recorded: the task id, ACCEPTED at that moment", async () => {
        const recorded = await queued(at(0));
        const answered = await store.applyUpstreamState(recorded.id, upstream(), at(40), true, recorded);
        expect(answered?.changed).toBe(true);
        expect(answered?.job).toMatchObject({ upstreamId: 101, status: 'ACCEPTED', updatedAt: at(40) });
        // Exact: the answer is the moment of the change, so no `since`.
        expect(answered?.job.history).toEqual([
          { status: 'QUEUED', at: at(0) },
          { status: 'ACCEPTED', at: at(40) },
        ]);
        expect(await find(recorded.id)).toEqual(answered!.job);
        // The answer to a submit that Claid already moved on (a fast task): one change, still exact.
        const fast = await queued(at(0));
        const running = await store.applyUpstreamState(
          fast.id,
          upstream({ upstreamId: 102, status: 'PROCESSING' }),
          at(50),
          true,
          fast,
        );
        expect(running?.job.history.map((h) => h.status)).toEqual(['QUEUED', 'PROCESSING']);
        expect(await find(fast.id)).toEqual(running!.job);
      });

      it("queues a submit answer's webhook event with the job as stored, planned against the job as recorded", async () => {
        // Claid answering a submit PROCESSING already (a fast task): a status this webhook asked for.
        const webhook = { url: 'https://hooks.example/ai-edit', events: ['PROCESSING'] as const };
        const recorded = await store.insertQueued({
          owner: 'alice',
          request: BASIC_REQUEST,
          requestHash: 'h',
          idempotencyKey: null,
          at: at(0),
          sendStartedAt: at(0),
          webhook,
        });
        const processing = upstream({ status: 'PROCESSING' });
        const answered = await store.applyUpstreamState(recorded.id, processing, at(40), true, recorded);
        const deliveries = await store.callers.claimDueDeliveries(at(60_000), 30_000, 10);
        expect(deliveries.map((d) => d.event)).toEqual(['PROCESSING']);
        expect(deliveries[0]).toMatchObject({ jobId: recorded.id, url: webhook.url, createdAt: at(40) });
        expect(deliveries[0]!.job).toEqual(answered!.job);
        expect(await find(recorded.id)).toEqual(answered!.job);
      });

      it('gives a submit ended meanwhile its task id, planned against the row, not the job as recorded', async () => {
        const recorded = await queued(at(0));
        // The periodic settling took the send for abandoned before its answer landed.
        await store.endUnsettledSubmits({ sentBefore: at(5_000), id: recorded.id }, OUTCOME_UNKNOWN, at(6_000));
        const late = await store.applyUpstreamState(recorded.id, upstream(), at(7_000), true, recorded);
        expect(late?.changed).toBe(true);
        expect(late?.job).toMatchObject({ upstreamId: 101, status: 'ERROR', updatedAt: at(6_000) });
        expect(late?.job.errors.map((e) => e.code)).toEqual(['UPSTREAM_OUTCOME_UNKNOWN']);
        expect(await find(recorded.id)).toEqual(late!.job);
      });

      it('a renewed send time keeps a live submit from being taken for abandoned', async () => {
        const live = await queued(at(0));
        const dead = await queued(at(0));
        await store.renewSendStarted([live.id], at(9_000));
        const ended = await store.endUnsettledSubmits({ sentBefore: at(5_000) }, OUTCOME_UNKNOWN, at(10_000));
        expect(ended.map((j) => j.id)).toEqual([dead.id]);
        expect((await store.findByIds([live.id]))[0]?.status).toBe('QUEUED');
      });
    });

    describe('the submit queue', () => {
      const waiting = (createdAt: Date, owner = 'alice') =>
        store.insertQueued({
          owner,
          request: BASIC_REQUEST,
          requestHash: 'h',
          idempotencyKey: null,
          at: createdAt,
          sendStartedAt: null,
        });

      it('claims waiting jobs oldest first (ties by id), each once, setting the send time; null when none waits', async () => {
        const late = await waiting(at(2_000));
        const tieA = await waiting(at(1_000));
        const tieB = await waiting(at(1_000));
        const [first, second] = [tieA, tieB].sort((a, b) => (a.id < b.id ? -1 : 1));
        // Jobs being sent (a send time) or sent (an upstream id) never wait.
        const sending = await store.insertQueued({ ...newJob(), at: at(0), sendStartedAt: at(0) });
        await store.insert(newJob({ at: at(0) }));
        expect(await store.countWaiting()).toBe(3);
        const claimed = [
          await store.claimNextQueued(at(5_000)),
          await store.claimNextQueued(at(5_001)),
          await store.claimNextQueued(at(5_002)),
        ];
        expect(claimed.map((j) => j?.id)).toEqual([first!.id, second!.id, late.id]);
        expect(claimed[0]).toMatchObject({ status: 'QUEUED', upstreamId: null, createdAt: at(1_000) });
        expect(await store.claimNextQueued(at(6_000))).toBeNull();
        expect(await store.countWaiting()).toBe(0);
        // A claimed job has a send time: an abandoned one ends as an unknown outcome like any submit.
        const ended = await store.endUnsettledSubmits(
          { sentBefore: at(5_001) },
          { code: 'UPSTREAM_OUTCOME_UNKNOWN', message: 'm' },
          at(7_000),
        );
        expect(ended.map((j) => j.id).sort()).toEqual([first!.id, sending.id].sort());
      });

      it('lets exactly one of several concurrent claims take each job', async () => {
        const jobs = await Promise.all(Array.from({ length: 5 }, (_, i) => waiting(at(i))));
        const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claimNextQueued(at(10_000 + i))));
        const got = claims.flatMap((job) => (job ? [job.id] : []));
        expect(got.sort()).toEqual(jobs.map((j) => j.id).sort());
      });

      it('puts a claimed job back at its place; a sent or final job does not move', async () => {
        const a = await waiting(at(0));
        const b = await waiting(at(1));
        expect((await store.claimNextQueued(at(10)))?.id).toBe(a.id);
        expect(await store.queuePositions([a.id, b.id])).toEqual([null, 1]);
        await store.returnToQueue(a.id);
        expect(await store.queuePositions([a.id, b.id])).toEqual([1, 2]);
        expect((await store.claimNextQueued(at(20)))?.id).toBe(a.id);
        await store.applyUpstreamState(a.id, upstream({ upstreamId: 5 }), at(30));
        await store.returnToQueue(a.id);
        expect(await find(a.id)).toMatchObject({ status: 'ACCEPTED', upstreamId: 5 });
        expect(await store.queuePositions([a.id])).toEqual([null]);
      });

      it('numbers waiting jobs 1, 2, ... across owners in send order; null for any other job or id', async () => {
        const c = await waiting(at(3), 'bob');
        const a = await waiting(at(1));
        const b = await waiting(at(2), 'carol');
        const sent = await store.insert(newJob());
        const unknown = randomUUID();
        expect(await store.queuePositions([c.id, unknown, a.id, sent.id, b.id])).toEqual([3, null, 1, null, 2]);
        expect(await store.queuePositions([])).toEqual([]);
        await store.claimNextQueued(at(10));
        expect(await store.queuePositions([a.id, b.id, c.id])).toEqual([null, 1, 2]);
      });
    });

    describe('findByUpstreamId', () => {
      it('returns every job of that task id, newest first, final or not, and nothing of other ids', async () => {
        const older = await store.insert(newJob({ upstream: upstream({ upstreamId: 7 }), at: at(1000) }));
        const newer = await store.insert(
          newJob({ owner: 'bob', upstream: upstream({ upstreamId: 7, status: 'DONE' }), at: at(2000) }),
        );
        await store.insert(newJob({ upstream: upstream({ upstreamId: 8 }), at: at(3000) }));

        expect(ids(await store.findByUpstreamId(7))).toEqual(ids([newer, older]));
        expect((await store.findByUpstreamId(7))[1]).toEqual(older);
        expect(await store.findByUpstreamId(9)).toEqual([]);
      });
    });

    describe('listUnfinished', () => {
      it('returns jobs not yet final, oldest first, up to the limit', async () => {
        const make = (status: JobStatus, offset: number): Promise<Job> =>
          store.insert(newJob({ upstream: upstream({ status }), at: at(offset) }));
        const accepted = await make('ACCEPTED', 3000);
        await make('DONE', 1000);
        const processing = await make('PROCESSING', 2000);
        const paused = await make('PAUSED', 500);
        await make('ERROR', 100);
        await make('CANCELLED', 50);
        const waiting = await make('WAITING', 4000);

        expect(ids(await store.listUnfinished())).toEqual(ids([paused, processing, accepted, waiting]));
        expect(ids(await store.listUnfinished(2))).toEqual(ids([paused, processing]));
        expect((await store.listUnfinished(1))[0]).toEqual(paused);

        await store.applyUpstreamState(processing.id, upstream({ status: 'DONE', result: FULL_RESULT }), at(5000));
        expect(ids(await store.listUnfinished())).toEqual(ids([paused, accepted, waiting]));
      });

      it('is empty for an empty store', async () => {
        expect(await store.listUnfinished()).toEqual([]);
      });
    });

    describe('listRecentlyDone', () => {
      it('returns DONE jobs only, most recently finished first, with their history, up to the limit', async () => {
        const make = (status: JobStatus, offset: number): Promise<Job> =>
          store.insert(newJob({ upstream: upstream({ status }), at: at(offset) }));
        const finish = async (job: Job, status: JobStatus, offset: number): Promise<Job> =>
          (await store.applyUpstreamState(job.id, upstream({ status, result: FULL_RESULT }), at(offset)))!.job;
        const early = await make('ACCEPTED', 0);
        await store.applyUpstreamState(early.id, upstream({ status: 'PROCESSING' }), at(4000));
        const late = await make('ACCEPTED', 1000);
        const failed = await make('ACCEPTED', 2000);
        await make('PROCESSING', 3000);
        const doneEarly = await finish(early, 'DONE', 9000);
        const doneLate = await finish(late, 'DONE', 20_000);
        await finish(failed, 'ERROR', 25_000);
        const submittedDone = await make('DONE', 15_000);

        expect(ids(await store.listRecentlyDone(10))).toEqual(ids([doneLate, submittedDone, doneEarly]));
        expect(ids(await store.listRecentlyDone(1))).toEqual(ids([doneLate]));
        expect(await store.listRecentlyDone(0)).toEqual([]);
        const [, , oldest] = await store.listRecentlyDone(10);
        expect(oldest?.history.map((change) => [change.status, change.at.getTime() - T0])).toEqual([
          ['ACCEPTED', 0],
          ['PROCESSING', 4000],
          ['DONE', 9000],
        ]);
        expect(oldest?.finishedAt).toEqual(at(9000));
      });

      it('is empty for an empty store', async () => {
        expect(await store.listRecentlyDone(5)).toEqual([]);
      });
    });

    describe('lifecycle', () => {
      it('migrates again without harm to existing data', async () => {
        const job = await store.insert(newJob({ idempotencyKey: 'kept' }));
        await store.migrate();
        await store.migrate();
        expect(await find(job.id)).toEqual(job);
        expect((await store.claimIdempotencyKey('alice', 'kept', 'x', at(1))).claimed).toBe(false);
        const next = await store.insert(newJob());
        expect(ids(await store.findByIds([job.id, next.id]))).toEqual([job.id, next.id]);
      });

      it('answers ping while open, fails it once closed, and closes idempotently', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
        await expect(store.ping()).rejects.toThrow();
      });
    });
  });
}
