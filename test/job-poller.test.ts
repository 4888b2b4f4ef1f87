import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/lib/logger.js';
import { DurationHistory, type ReadPlanner } from '../src/services/jobs/duration-history.js';
import { createJobPubSub } from '../src/services/jobs/job-events.js';
import { JobPoller } from '../src/services/jobs/job-poller.js';
import { JobRefresher } from '../src/services/jobs/job-refresher.js';
import { JobService } from '../src/services/jobs/job-service.js';
import type { JobStore } from '../src/services/store/job-store.js';
import { createJobStore } from '../src/services/store/job-store-factory.js';
import type { ClaidClient } from '../src/services/upstream/claid-client.js';
import {
  finishTask,
  insertJob,
  type PollerRig,
  readsOf,
  sleep,
  startPollerRig,
  taskIdOf,
  waitFor,
} from './support/poller-harness.js';
import { claidErrorBody, startTestUpstream, type UpstreamHandler } from './support/test-upstream.js';

const tempRoot = mkdtempSync(join(tmpdir(), 'job-poller-test-'));
afterAll(() => rmSync(tempRoot, { recursive: true, force: true }));

let rigs: PollerRig[] = [];
afterEach(async () => {
  await Promise.all(rigs.map((r) => r.close()));
  rigs = [];
});
async function rig(options: Parameters<typeof startPollerRig>[0]): Promise<PollerRig> {
  const r = await startPollerRig(options);
  rigs.push(r);
  return r;
}

describe('JobPoller', () => {
  it('reads a job watched by 200 subscribers at most once per interval, until it is DONE', async () => {
    const { up, store, poller } = await rig({ pollIntervalMs: 150, backgroundPollIntervalMs: 5_000 });
    up.setTask(1, { status: 'PROCESSING' });
    const job = await insertJob(store, 1);
    await poller.start();

    const started = Date.now();
    const releases = Array.from({ length: 200 }, () => poller.watch(job.id));
    expect(poller.stats()).toMatchObject({ tracked: 1, watched: 1, watchers: 200 });
    await sleep(1_500);
    finishTask(up, 1);
    await waitFor(async () => (await store.findByIds([job.id]))[0]?.status === 'DONE', 2_000, 'the job to be DONE');
    await waitFor(() => poller.stats().tracked === 0, 1_000, 'the poller to drop the job');
    const reads = readsOf(up, 1);
    const elapsed = reads.at(-1)!.at - started;

    expect(reads.length).toBeLessThanOrEqual(Math.floor(elapsed / 150) + 2);
    // ...and it really is the watched cadence, not the background one.
    expect(reads.length).toBeGreaterThanOrEqual(Math.floor(elapsed / 150) - 3);
    for (let i = 1; i < reads.length; i++) expect(reads[i]!.at - reads[i - 1]!.at).toBeGreaterThanOrEqual(140);
    expect(poller.stats().readsByJob.get(job.id)).toBe(reads.length);

    const afterDone = up.requests.length;
    await sleep(400);
    expect(up.requests.length).toBe(afterDone);
    for (const release of releases) release();
    expect(poller.stats().watchers).toBe(0);
  });

  it('stops tracking a job as soon as a subscriber hears it end, without reading it again', async () => {
    const { up, store, poller } = await rig({ pollIntervalMs: 100, backgroundPollIntervalMs: 5_000 });
    up.setTask(1, { status: 'PROCESSING' });
    const job = await insertJob(store, 1, 0);
    await poller.start();
    const release = poller.watch(job.id);
    expect(poller.stats().tracked).toBe(1);
    // An unfinished state changes nothing; a final one (as another instance stored and published it) ends tracking.
    poller.sawFinal({ ...job, status: 'PROCESSING' });
    expect(poller.stats().tracked).toBe(1);
    poller.sawFinal({ ...job, status: 'DONE' });
    expect(poller.stats().tracked).toBe(0);
    const reads = readsOf(up, 1).length;
    await sleep(400);
    expect(readsOf(up, 1).length).toBe(reads);
    release();
  });

  it('drops to the background cadence within one interval when the last watcher leaves', async () => {
    const { up, store, poller } = await rig({ pollIntervalMs: 100, backgroundPollIntervalMs: 1_500 });
    up.setTask(1, { status: 'PROCESSING' });
    const job = await insertJob(store, 1, 0);
    await poller.start(); // nothing due: read a moment ago, and nobody watches yet

    // Watching a job the poller does not track loads it from the store.
    const releaseA = poller.watch(job.id);
    const releaseB = poller.watch(job.id);
    await sleep(1_000);
    const watchedReads = readsOf(up, 1).length;
    expect(watchedReads).toBeGreaterThanOrEqual(6);

    releaseA();
    releaseA(); // idempotent: B still watches
    await sleep(400);
    const stillWatchedReads = readsOf(up, 1).length - watchedReads;
    expect(stillWatchedReads).toBeGreaterThanOrEqual(2);

    releaseB();
    const releasedAt = Date.now();
    const before = readsOf(up, 1).length;
    await sleep(1_200);
    const after = readsOf(up, 1).filter((r) => r.at > releasedAt + 100);
    expect(after.length).toBe(0); // at most the read already due within one interval, then nothing for 1.5 s
    expect(readsOf(up, 1).length - before).toBeLessThanOrEqual(1);
    expect(poller.stats()).toMatchObject({ tracked: 1, watched: 0, watchers: 0 });

    // Watching again brings the fast cadence straight back.
    const rewatchedAt = Date.now();
    const releaseC = poller.watch(job.id);
    await waitFor(() => readsOf(up, 1).some((r) => r.at >= rewatchedAt), 300, 'a read after re-watching');
    releaseC();
  });

  it('resumes unfinished jobs from a file-backed store after a restart', async () => {
    const databaseUrl = `sqlite:${join(tempRoot, 'restart', 'jobs.db')}`;
    const first = await createJobStore(databaseUrl);
    const jobs = [];
    for (let id = 1; id <= 5; id++) jobs.push(await insertJob(first, id));
    await first.close();

    const { up, store, poller } = await rig({ databaseUrl, pollIntervalMs: 100, backgroundPollIntervalMs: 200 });
    for (let id = 1; id <= 5; id++) finishTask(up, id);
    expect(up.requests.length).toBe(0);
    await poller.start();
    expect(poller.stats().tracked).toBe(5);
    await waitFor(() => poller.stats().tracked === 0, 3_000, 'every resumed job to finish');

    const stored = await store.findByIds(jobs.map((j) => j.id));
    expect(stored.map((j) => j?.status)).toEqual(['DONE', 'DONE', 'DONE', 'DONE', 'DONE']);
    expect([1, 2, 3, 4, 5].map((id) => readsOf(up, id).length)).toEqual([1, 1, 1, 1, 1]);
    expect(await store.listUnfinished()).toEqual([]);
  });

  it('never reads one job twice at once, whether the poller or a query refresh asks', async () => {
    const up = await startTestUpstream();
    const inFlight = new Map<number, number>();
    let maxConcurrent = 0;
    const slow: UpstreamHandler = async (request) => {
      const id = taskIdOf(request);
      if (id === null) return up.fakeClaid(request);
      const now = (inFlight.get(id) ?? 0) + 1;
      inFlight.set(id, now);
      maxConcurrent = Math.max(maxConcurrent, now);
      await sleep(120);
      inFlight.set(id, (inFlight.get(id) ?? 1) - 1);
      return up.fakeClaid(request);
    };
    up.setDefault(slow);
    const r = await rig({ up, pollIntervalMs: 100, backgroundPollIntervalMs: 100 });
    const { store, poller, claid, refresher, events, logger } = r;
    const service = new JobService({
      store,
      claid,
      refresher,
      events,
      logger,
      pollIntervalMs: 100,
      claimWaitMs: 1_000,
    });
    up.setTask(1, { status: 'PROCESSING' });
    up.setTask(2, { status: 'PROCESSING' });
    const one = await insertJob(store, 1);
    const two = await insertJob(store, 2);
    await poller.start();
    const release = poller.watch(one.id);

    // Queries refresh stale jobs while the poller polls them.
    const queriesFrom = Date.now();
    const until = queriesFrom + 1_500;
    const queries: Promise<unknown>[] = [];
    while (Date.now() < until) {
      queries.push(service.loadJobs('alice', [one.id, two.id, one.id]));
      queries.push(refresher.refresh((await store.findByIds([two.id]))[0]!));
      await sleep(15);
    }
    await Promise.all(queries);
    const queriesFor = Date.now() - queriesFrom;
    // Job one is read only when stale (query) or due (poller), both measured from its last read, whoever made it:
    // at most once per interval plus the 120 ms a read takes.
    const oneReads = readsOf(up, 1).length;
    expect(oneReads).toBeLessThanOrEqual(Math.floor(queriesFor / 220) + 2);
    finishTask(up, 1);
    finishTask(up, 2);
    await waitFor(() => poller.stats().tracked === 0, 2_000, 'both jobs to finish');
    release();

    expect(oneReads).toBeGreaterThanOrEqual(5);
    expect(readsOf(up, 2).length).toBeGreaterThanOrEqual(5);
    expect(maxConcurrent).toBe(1);
  });

  it('counts a query refresh as a read: the next poll comes one interval after it', async () => {
    const { up, store, poller, refresher } = await rig({ pollIntervalMs: 300, backgroundPollIntervalMs: 10_000 });
    up.setTask(1, { status: 'PROCESSING' });
    const job = await insertJob(store, 1);
    await poller.start();
    const release = poller.watch(job.id);
    const gaps: number[] = [];
    for (let round = 0; round < 4; round++) {
      const seen = readsOf(up, 1).length;
      await waitFor(() => readsOf(up, 1).length > seen, 1_000, 'a poll');
      await sleep(150);
      // A query reads the job halfway through the interval (the refresher stamps lastPolledAt on the way back).
      await refresher.refresh((await store.findByIds([job.id]))[0]!);
      const queriedAt = Date.now();
      const afterQuery = readsOf(up, 1).length;
      await waitFor(() => readsOf(up, 1).length > afterQuery, 1_000, 'the poll after the query');
      gaps.push(readsOf(up, 1)[afterQuery]!.at - queriedAt);
    }
    release();
    // Measured from the poller's own read instead, the next poll would come ~150 ms after the query.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(270);
  });

  it('backs off a failing job without stalling the others, honouring a 429 Retry-After', async () => {
    const up = await startTestUpstream();
    up.setDefault((request) => {
      if (taskIdOf(request) === 1) return { status: 500, body: claidErrorBody('boom', '5000') };
      if (taskIdOf(request) === 3) {
        return { status: 429, headers: { 'retry-after': '2' }, body: claidErrorBody('slow down', '2001') };
      }
      return up.fakeClaid(request);
    });
    // Back-off is capped at the background interval (a failing job is read no more often than an unwatched one).
    const { store, poller } = await rig({ up, budget: false, pollIntervalMs: 50, backgroundPollIntervalMs: 5_000 });
    up.setTask(2, { status: 'PROCESSING' });
    const failing = await insertJob(store, 1);
    const healthy = await insertJob(store, 2);
    const limited = await insertJob(store, 3);
    await poller.start();
    for (const job of [failing, healthy, limited]) poller.watch(job.id);

    await sleep(1_200);
    finishTask(up, 2);
    await waitFor(async () => (await store.findByIds([healthy.id]))[0]?.status === 'DONE', 500, 'the healthy job');
    await sleep(400);

    // Without back-off the failing job would be read ~30 times in 1.6 s (every 50 ms); with it: 50, 100, 200, 400...
    const failingReads = readsOf(up, 1).length;
    expect(failingReads).toBeGreaterThanOrEqual(3);
    expect(failingReads).toBeLessThanOrEqual(8);
    // The healthy one kept its cadence meanwhile.
    expect(readsOf(up, 2).length).toBeGreaterThanOrEqual(15);
    // Retry-After: 2 means one read in the first 1.6 s.
    expect(readsOf(up, 3).length).toBe(1);
    expect(poller.stats().failures).toBe(failingReads + 1);
    expect(poller.stats().tracked).toBe(2);
  });

  it('serves watched jobs first when the budget is short, then the longest-waiting background job', async () => {
    const { up, store, poller, budget } = await rig({
      budget: { perSecond: 4, perMinute: 1_000 },
      pollIntervalMs: 300,
      backgroundPollIntervalMs: 300,
    });
    const background = [];
    for (let id = 1; id <= 12; id++) {
      up.setTask(id, { status: 'PROCESSING' });
      background.push(await insertJob(store, id, 60_000 - id)); // all due long ago: job 1 the longest
    }
    up.setTask(99, { status: 'PROCESSING' });
    const watched = await insertJob(store, 99, 0);
    await poller.start();
    const release = poller.watch(watched.id);
    const started = Date.now();
    await sleep(3_000);
    release();
    await poller.stop();
    const elapsed = Date.now() - started;

    // About 12 tokens in 3 s: the watched job, due every 300 ms, takes most of them; FIFO would give it one or two.
    const watchedReads = readsOf(up, 99).length;
    expect(watchedReads).toBeGreaterThanOrEqual(Math.floor(elapsed / 600));
    // The rest went to background jobs oldest-due first: none read twice while another waited.
    const bg = background.map((_, i) => readsOf(up, i + 1).length);
    expect(Math.max(...bg)).toBeLessThanOrEqual(1);
    const readOnce = bg.map((n, i) => (n > 0 ? i : -1)).filter((i) => i >= 0);
    expect(readOnce).toEqual(readOnce.map((_, i) => i)); // a prefix: jobs 1, 2, 3, ...
    expect(readOnce.length).toBeGreaterThanOrEqual(1);
    expect(budget!.stats().granted.watched).toBe(watchedReads);
  });

  it('ignores final jobs, loads watched ones on demand, and is cheap to watch 10 000 times', async () => {
    const { up, store, poller } = await rig({ pollIntervalMs: 100, backgroundPollIntervalMs: 60_000 });
    await poller.start();
    const done = await insertJob(store, 1);
    await store.applyUpstreamState(
      done.id,
      { upstreamId: 1, status: 'DONE', createdAt: done.createdAt, errors: [], result: null },
      new Date(),
    );
    const [finalJob] = await store.findByIds([done.id]);
    poller.track(finalJob!);
    const releaseFinal = poller.watch(done.id);

    const jobs = [];
    for (let id = 2; id <= 501; id++) {
      up.setTask(id, { status: 'PROCESSING' });
      jobs.push(await insertJob(store, id, 0));
    }
    const cpu = process.cpuUsage();
    const releases = [];
    for (let i = 0; i < 10_000; i++) releases.push(poller.watch(jobs[i % jobs.length]!.id));
    await waitFor(() => poller.stats().tracked === 500, 2_000, 'watched jobs to be loaded');
    expect(poller.stats()).toMatchObject({ tracked: 500, watched: 500, watchers: 10_001 });
    for (const release of releases) release();
    const used = process.cpuUsage(cpu);
    // 10 000 watch/release pairs and 500 loads: well under a second of CPU.
    expect((used.user + used.system) / 1000).toBeLessThan(1_000);
    releaseFinal();
    expect(readsOf(up, 1).length).toBe(0);
    expect(poller.stats().watchers).toBe(0);
  });
});

describe('JobPoller without start()', () => {
  it('does not read anything until started, and stop() is safe before start()', async () => {
    const logger = createLogger('silent');
    const store = await createJobStore('sqlite::memory:');
    let upstreamReads = 0;
    const claid: ClaidClient = {
      submit: () => Promise.reject(new Error('not in this test')),
      getTask: () => {
        upstreamReads++;
        return Promise.reject(new Error('not in this test'));
      },
      close: async () => {},
    };
    const refresher = new JobRefresher({ store, claid, events: createJobPubSub(), logger });
    const poller = new JobPoller({ store, refresher, logger, pollIntervalMs: 10, backgroundPollIntervalMs: 10 });
    poller.track(await insertJob(store, 1));
    await sleep(100);
    expect(poller.stats()).toMatchObject({ tracked: 1, reads: 0 });
    expect(upstreamReads).toBe(0);
    await poller.stop();
    await store.close();
  });
});

describe('JobPoller with the learned schedule (POLL_STRATEGY=learned)', () => {
  const INTERVAL = 200;
  const FINISH_AFTER_MS = 1_650;

  /** 30 DONE jobs of the kind insertJob makes, each 1.4-1.7 s from submit to DONE (exact moments), learned from. */
  async function learnFrom(store: JobStore): Promise<DurationHistory> {
    for (let i = 0; i < 30; i++) {
      const job = await insertJob(store, 1_000 + i, 120_000);
      const done = new Date(job.createdAt.getTime() + 1_400 + (i % 4) * 100);
      const state = { upstreamId: 1_000 + i, status: 'DONE' as const, createdAt: job.createdAt, errors: [] };
      await store.applyUpstreamState(job.id, { ...state, result: null }, done, true);
    }
    const history = new DurationHistory({ store, logger: createLogger('silent') });
    await history.start();
    return history;
  }

  /** Four watched jobs that finish upstream FINISH_AFTER_MS after their submit: their reads' ages, how late DONE. */
  async function runJobs({ up, store, poller }: PollerRig): Promise<{ readAges: number[][]; lateMs: number[] }> {
    const ids = [1, 2, 3, 4];
    for (const id of ids) up.setTask(id, { status: 'PROCESSING' });
    await poller.start();
    const jobs = await Promise.all(ids.map((id) => insertJob(store, id, 0)));
    const submittedAt = jobs.map((job) => job.createdAt.getTime());
    for (const job of jobs) poller.watch(job.id);
    const timers = ids.map((id, i) =>
      setTimeout(() => finishTask(up, id), submittedAt[i]! + FINISH_AFTER_MS - Date.now()),
    );
    const allDone = async () => (await store.findByIds(jobs.map((job) => job.id))).every((j) => j?.status === 'DONE');
    await waitFor(allDone, 5_000, 'every job DONE');
    for (const timer of timers) clearTimeout(timer);
    const done = await store.findByIds(jobs.map((job) => job.id));
    return {
      readAges: ids.map((id, i) => readsOf(up, id).map((read) => read.at - submittedAt[i]!)),
      lateMs: done.map((job, i) => job!.finishedAt!.getTime() - submittedAt[i]! - FINISH_AFTER_MS),
    };
  }

  it('reads jobs of known duration fewer times than fixed, never twice within the interval, seeing DONE in time', async () => {
    const fixedRig = await rig({ pollIntervalMs: INTERVAL, backgroundPollIntervalMs: 5_000 });
    await learnFrom(fixedRig.store);
    const fixed = await runJobs(fixedRig);

    // The rig's store holds the history, so the planner is bound to it once the rig exists.
    let history: DurationHistory | undefined;
    const readPlanner: ReadPlanner = {
      nextReadAt: (...args) => history!.nextReadAt(...args),
      reconcileAt: (...args) => history!.reconcileAt(...args),
    };
    const learnedRig = await rig({ pollIntervalMs: INTERVAL, backgroundPollIntervalMs: 5_000, readPlanner });
    history = await learnFrom(learnedRig.store);
    const learned = await runJobs(learnedRig);

    for (const [i, ages] of learned.readAges.entries()) {
      // Seldom while a result is unlikely: nothing in the first second of a job that takes 1.4-1.7 s...
      expect(ages[0]).toBeGreaterThanOrEqual(1_000);
      // ...then at most one read per interval.
      for (let k = 1; k < ages.length; k++) expect(ages[k]! - ages[k - 1]!).toBeGreaterThanOrEqual(INTERVAL - 10);
      expect(ages.length).toBeLessThanOrEqual(3);
      expect(ages.length).toBeLessThan(fixed.readAges[i]!.length);
    }
    for (const late of learned.lateMs) expect(late).toBeLessThanOrEqual(INTERVAL + 150);
    // The fixed cadence reads about once per interval from the submit on.
    for (const ages of fixed.readAges) expect(ages.length).toBeGreaterThanOrEqual(5);
    expect(fixed.readAges.every((ages) => ages[0]! < 1_000)).toBe(true); // long before the learned first read
  });
});
