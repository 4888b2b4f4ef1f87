import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../src/domain/errors.js';
import { createLogger } from '../src/lib/logger.js';
import { GenerationBudget } from '../src/services/upstream/generation-budget.js';
import { type GrantWindowsFactory, MemoryGrantWindows } from '../src/services/upstream/grant-log.js';
import { FRESH_GRANT_MS, RateBudget } from '../src/services/upstream/rate-budget.js';
import {
  insertJob,
  type PollerRig,
  progressingTasks,
  slidingWindowLimit,
  startPollerRig,
  waitFor,
} from './support/poller-harness.js';
import { startTestUpstream } from './support/test-upstream.js';

const logger = createLogger('silent');
const budgets: RateBudget[] = [];
function budget(options: Partial<ConstructorParameters<typeof RateBudget>[0]> = {}): RateBudget {
  const b = new RateBudget({ perSecond: 20, perMinute: 6000, logger, ...options });
  budgets.push(b);
  return b;
}
afterEach(() => {
  for (const b of budgets.splice(0)) b.close();
});

/** Grant times of `count` reads queued at once. */
async function grantTimes(b: RateBudget, count: number): Promise<number[]> {
  const times: number[] = [];
  await Promise.all(Array.from({ length: count }, () => b.acquire('read').then(() => times.push(Date.now()))));
  return times.sort((x, y) => x - y);
}

/** The most grants inside any window of `windowMs` (sliding, as a strict upstream would count). */
function maxInWindow(times: number[], windowMs: number): number {
  let max = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}

describe('RateBudget', () => {
  it('grants at most perSecond in any one-second window, spread evenly', async () => {
    const b = budget({ perSecond: 20 });
    const started = Date.now();
    const times = await grantTimes(b, 50);
    const elapsed = Date.now() - started;

    expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(20);
    // 50 grants 50 ms apart: about 2.45 s; far longer would mean the budget wastes capacity.
    expect(elapsed).toBeGreaterThanOrEqual(2_300);
    expect(elapsed).toBeLessThan(3_500);
    expect(b.stats().grantedByKind.read).toBe(50);
    expect(b.stats().queued).toBe(0);
  });

  it('also keeps the per-minute window, through the grant-windows seam', async () => {
    const made: Array<[number, number, string, string]> = [];
    // When the windows granted, by their own clock: the acquirers hear of it a little later, by as much as a loaded
    // machine delays them.
    const granted: number[] = [];
    // The "minute" shrunk to 2 s so the test can see it bind; pacing starts at half of it (3 of 5).
    const factory: GrantWindowsFactory = (spec, name, key) => {
      made.push([spec.perSecond, spec.perMinute, name, key]);
      // The windows' own clock, read once per take: a grant's time is the one they judged it by.
      let readAt = 0;
      const windows = new MemoryGrantWindows({ ...spec, minuteWindowMs: 2_000 }, () => (readAt = Date.now()));
      const take = windows.take.bind(windows);
      windows.take = async () => {
        const waitMs = await take();
        if (waitMs === 0) granted.push(readAt);
        return waitMs;
      };
      // A grant given back (taken for a waiter that had gone) is not one.
      const giveBack = windows.giveBack.bind(windows);
      windows.giveBack = async () => {
        granted.pop();
        return giveBack();
      };
      return windows;
    };
    const b = budget({ perSecond: 50, perMinute: 5, grantWindows: factory });
    const started = Date.now();
    await grantTimes(b, 8);
    const times = granted.map((t) => t - started);
    expect(times).toHaveLength(8);

    expect(made).toEqual([[50, 5, 'upstream-budget', 'claid']]);
    // No more than 5 in any 2 s, whatever the moment: a sliding window.
    expect(maxInWindow(times, 2_000)).toBeLessThanOrEqual(5);
    // The first three go at the spacing; from the third on, grants are paced 2000/5 = 400 ms apart.
    expect(times.slice(0, 3).every((t) => t < 200)).toBe(true);
    expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(390);
    expect(times[5]!).toBeGreaterThanOrEqual(1_990);
  });

  it('grants submits first, then watched reads, then background reads; the longest waiting first in each class', async () => {
    const b = budget({ perSecond: 10 });
    await b.acquire('read'); // the next grant is now at least 100 ms away, so everything below queues
    const order: string[] = [];
    const track = (label: string, p: Promise<void>) => p.then(() => order.push(label));
    const now = Date.now();
    const all = [
      track('background-100', b.acquire('read', { priority: 'background', since: now - 100 })),
      track('watched-300', b.acquire('read', { priority: 'watched', since: now - 300 })),
      track('background-500', b.acquire('read', { priority: 'background', since: now - 500 })),
      track('plain-read', b.acquire('read')),
      track('submit', b.acquire('submit')),
      track('watched-900', b.acquire('read', { priority: 'watched', since: now - 900 })),
      // The poller's way: no explicit options, the priority comes from the surrounding scope.
      track(
        'scoped-background-900',
        b.withPriority({ priority: 'background', since: now - 900 }, () => b.acquire('read')),
      ),
    ];
    expect(b.stats().queued).toBe(7);
    await Promise.all(all);

    expect(order).toEqual([
      'submit',
      'watched-900',
      'watched-300',
      'plain-read',
      'scoped-background-900',
      'background-500',
      'background-100',
    ]);
    expect(b.stats().granted).toEqual({ submit: 1, watched: 4, background: 3 });
  });

  it('grants a submit its token only together with a generation, and the tokens between to reads', async () => {
    // Claid's limits: 4 requests and 1 generation a second. Six submits and twenty reads ask at once.
    const generations = new GenerationBudget({ perSecond: 1, perMinute: 60, logger });
    const b = budget({ perSecond: 4, perMinute: 120, generations });
    const started = Date.now();
    const submits: number[] = [];
    const reads: number[] = [];
    await Promise.all([
      ...Array.from({ length: 6 }, () => b.acquire('submit').then(() => submits.push(Date.now() - started))),
      ...Array.from({ length: 20 }, () => b.acquire('read').then(() => reads.push(Date.now() - started))),
    ]);
    submits.sort((x, y) => x - y);
    // The generation is what spaces the submits' tokens (1.1 s, its margin), so that their requests, sent on the
    // grant, never meet in one upstream second; before, a generation taken ahead of a wait for the token could.
    for (let i = 1; i < submits.length; i++) expect(submits[i]! - submits[i - 1]!).toBeGreaterThanOrEqual(1_090);
    // Reads were not held back behind the submits: they took the tokens in between.
    expect(reads.filter((t) => t < submits.at(-1)!).length).toBeGreaterThanOrEqual(8);
    expect(
      maxInWindow(
        [...submits, ...reads].sort((x, y) => x - y),
        1000,
      ),
    ).toBeLessThanOrEqual(4);
  }, 30_000);

  it('spaces the next generation from the send (noteSent), and lets a submit wait in line for a short spacing', async () => {
    // 10 a second: spacing 100 ms (110 with its margin).
    const generations = new GenerationBudget({ perSecond: 10, perMinute: 600, logger });
    expect(await generations.tryTake()).toBe(0);
    expect(await generations.wouldGrantNow()).toBe(false);
    // The rest of the spacing is ~110 ms: a submit may wait in line for it only when told it may wait that long.
    expect(await generations.wouldGrantNow(200)).toBe(true);
    expect(await generations.wouldGrantNow(20)).toBe(false);
    await new Promise((r) => setTimeout(r, 80));
    // The granted submit leaves only now: the spacing starts again from here, not from the grant 80 ms ago.
    generations.noteSent();
    const wait = await generations.tryTake();
    expect(wait).toBeGreaterThan(90);
    expect(wait).toBeLessThanOrEqual(110);
    await new Promise((r) => setTimeout(r, wait + 5));
    expect(await generations.tryTake()).toBe(0);
  });

  it('sends back-to-back submits at once under a high generation limit (no queueing for a millisecond of spacing)', async () => {
    const generations = new GenerationBudget({ perSecond: 1000, perMinute: 60_000, logger });
    const b = budget({ perSecond: 1000, perMinute: 60_000, generations });
    for (let i = 0; i < 20; i++) {
      await b.acquire('submit');
      generations.noteSent();
      expect(await b.canGrantSubmitNow()).toBe(true);
    }
  });

  it('tells how much of the minute is in use, for the read planner', async () => {
    const b = budget({ perSecond: 100, perMinute: 40 });
    expect(b.minuteUse()).toBe(0);
    await grantTimes(b, 10);
    // Read after a grant, at most once a second: the first grant's reading says 1 of 40; one more grant after a
    // second says all ten and the new one.
    await new Promise((r) => setTimeout(r, 1_050));
    await b.acquire('read');
    await waitFor(() => b.minuteUse() >= 11 / 40, 1_000, 'the use to be read');
    expect(b.minuteUse()).toBeCloseTo(11 / 40, 6);
  });

  it('pauses for a spent minute or a stricter second, not for a spent second it keeps itself', () => {
    const b = budget({ perSecond: 4, perMinute: 120, jitterMs: 0 });
    b.observe({ httpStatus: 200, remaining: 0, resetSeconds: 1, window: { seconds: 1, limit: 4 } });
    expect(b.stats().pausedForMs).toBe(0);
    b.observe({ httpStatus: 200, remaining: 0, resetSeconds: 1, window: { seconds: 1, limit: 2 } });
    expect(b.stats().pausedForMs).toBeGreaterThan(900);
    const c = budget({ perSecond: 4, perMinute: 120, jitterMs: 0 });
    c.observe({ httpStatus: 200, remaining: 0, resetSeconds: 20, window: { seconds: 60, limit: 120 } });
    expect(c.stats().pausedForMs).toBeGreaterThan(19_000);
    const d = budget({ perSecond: 4, perMinute: 120, jitterMs: 0 });
    d.observe({ httpStatus: 200, remaining: 0, resetSeconds: 1 });
    expect(d.stats().pausedForMs).toBeGreaterThan(900);
  });

  it('uses a held token only while it is fresh; a stale one waits for a new grant', async () => {
    const b = budget({ perSecond: 4, perMinute: 120 });
    await b.acquire('submit');
    const heldAt = Date.now();
    // Used at once: no wait, no second grant.
    await b.withGrantedToken(heldAt, () => b.acquire('submit'));
    expect(b.stats().grantedByKind.submit).toBe(1);
    // Used after FRESH_GRANT_MS (a slow claim): it waits its turn for a fresh token, which is granted and counted.
    await new Promise((r) => setTimeout(r, FRESH_GRANT_MS + 20));
    await b.withGrantedToken(heldAt, () => b.acquire('submit'));
    expect(b.stats().grantedByKind.submit).toBe(2);
  });

  it('pauses every grant until RateLimit-Reset after a 429', async () => {
    const b = budget({ perSecond: 50, jitterMs: 50 });
    await b.acquire('read');
    b.observe({ httpStatus: 429, remaining: -1, resetSeconds: 1 });
    expect(b.stats().pausedForMs).toBeGreaterThan(900);
    expect(b.stats().rateLimited).toBe(1);

    const started = Date.now();
    await Promise.all([b.acquire('submit'), b.acquire('read')]);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(990);
    expect(waited).toBeLessThan(1_400);
  });

  it('pauses for a missing reset (1 s) and when the quota is spent', async () => {
    const b = budget({ perSecond: 50, jitterMs: 0 });
    b.observe({ httpStatus: 429, remaining: null, resetSeconds: null });
    expect(b.stats().pausedForMs).toBeGreaterThan(900);

    const c = budget({ perSecond: 50, jitterMs: 0 });
    c.observe({ httpStatus: 200, remaining: 3, resetSeconds: 1 });
    expect(c.stats().pausedForMs).toBe(0);
    c.observe({ httpStatus: 200, remaining: 0, resetSeconds: 2 });
    expect(c.stats().pausedForMs).toBeGreaterThan(1_900);
  });

  it('backs off on repeated 5xx or network failures and recovers on success', async () => {
    const b = budget({ perSecond: 50 });
    b.observe({ httpStatus: 503, remaining: null, resetSeconds: null });
    expect(b.stats().pausedForMs).toBe(0); // one failure is the client's retry to handle
    b.observe({ httpStatus: null, remaining: null, resetSeconds: null });
    const first = b.stats().pausedForMs;
    expect(first).toBeGreaterThan(0);
    b.observe({ httpStatus: 502, remaining: null, resetSeconds: null });
    b.observe({ httpStatus: 500, remaining: null, resetSeconds: null });
    expect(b.stats().consecutiveFailures).toBe(4);
    expect(b.stats().pausedForMs).toBeGreaterThan(first);
    expect(b.stats().pausedForMs).toBeLessThanOrEqual(1_000);

    b.observe({ httpStatus: 200, remaining: 100, resetSeconds: 1 });
    expect(b.stats().consecutiveFailures).toBe(0);
    b.observe({ httpStatus: 500, remaining: null, resetSeconds: null });
    expect(b.stats().pausedForMs).toBeLessThanOrEqual(1_000); // the old pause runs out; no new one
  });

  it('rejects waiters on close and on abort, and refuses later acquires', async () => {
    const b = budget({ perSecond: 50 });
    b.observe({ httpStatus: 429, remaining: -1, resetSeconds: 5 });
    const abort = new AbortController();
    const aborted = b.acquire('read', { signal: abort.signal });
    const waiting = b.acquire('submit');
    abort.abort();
    await expect(aborted).rejects.toBeInstanceOf(UpstreamError);
    expect(b.stats().queued).toBe(1);

    b.close();
    await expect(waiting).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await expect(b.acquire('read')).rejects.toBeInstanceOf(UpstreamError);
    expect(b.stats().queued).toBe(0);
  });
});

describe('RateBudget end to end: poller, Claid client and a rate-limited upstream', () => {
  let rig: PollerRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('stays under a stricter upstream limit after learning it, and still finishes every job', async () => {
    const up = await startTestUpstream();
    const progress = progressingTasks(up, 2);
    // The upstream allows 10 requests in any sliding second; the budget is configured for twice that (another
    // consumer on the account, or a wrong setting), so only the upstream's answers can keep the gateway in line.
    const limited = slidingWindowLimit(progress.handler, 10);
    up.setDefault(limited.handler);
    rig = await startPollerRig({
      up,
      budget: { perSecond: 20, perMinute: 6000 },
      retries: 2,
      pollIntervalMs: 200,
      backgroundPollIntervalMs: 200,
    });
    const { store, poller } = rig;
    const jobs = [];
    for (let id = 1; id <= 50; id++) {
      up.setTask(id, { status: 'ACCEPTED' });
      jobs.push(await insertJob(store, id));
    }

    const started = Date.now();
    await poller.start();
    expect(poller.stats().tracked).toBe(50);
    await waitFor(() => poller.stats().tracked === 0, 28_000, 'every job to finish');
    const elapsed = Date.now() - started;

    const stored = await store.findByIds(jobs.map((j) => j.id));
    expect(stored.map((j) => j?.status)).toEqual(jobs.map(() => 'DONE'));
    expect([...progress.okReads.values()].every((n) => n === 2)).toBe(true);
    const refusedAfterFirst = Math.max(0, limited.refusedAt.length - 1);
    expect(refusedAfterFirst).toBeLessThanOrEqual(2);
    expect(limited.maxInWindowAccepted()).toBeLessThanOrEqual(10);
    console.info(
      `budget e2e: 50 jobs DONE in ${elapsed} ms, ${up.requests.length} upstream requests, ` +
        `${limited.refusedAt.length} answered 429, budget ${JSON.stringify(rig.budget?.stats())}`,
    );
  });
});
