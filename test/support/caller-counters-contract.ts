import { afterEach, describe, expect, it } from 'vitest';
import type { AiEditRequest, AiEditResult, Job, UpstreamTaskState } from '../../src/domain/job.js';
import { isFinalStatus } from '../../src/domain/job.js';
import type { JobStore, NewJob, NewQueuedJob } from '../../src/services/store/job-store.js';

// The per-caller counters every submit reads (countUnfinished, creditsSpent from a UTC midnight) against what the
// jobs themselves say, after every kind of write: a reference computed here from the jobs read back. Run over every
// store; `openAt(version)` opens a store migrated only that far (the release before the counters), for the
// migration that must backfill them.

const DAY_MS = 86_400_000;
/** Today, in these tests: a UTC midnight. */
const TODAY = Date.UTC(2025, 0, 2);
const YESTERDAY = TODAY - DAY_MS;
const TOMORROW = TODAY + DAY_MS;
const at = (ms: number): Date => new Date(ms);

const RESULT: AiEditResult = {
  inputObject: { ext: 'png', width: 10, height: 10 },
  outputObjects: [{ ext: 'png', tmpUrl: 'https://example.com/out.png' }],
};

const request = (images: number | undefined, prompt = 'paint it red'): AiEditRequest => ({
  input: 'https://example.com/in.png',
  options: { prompt },
  ...(images === undefined ? {} : { output: { format: 'png', numberOfImages: images } }),
});

function upstream(overrides: Partial<UpstreamTaskState> = {}): UpstreamTaskState {
  return { upstreamId: 1, status: 'ACCEPTED', createdAt: at(TODAY), errors: [], result: null, ...overrides };
}

const submitted = (owner: string, atMs: number, images?: number, overrides: Partial<NewJob> = {}): NewJob => ({
  owner,
  request: request(images),
  requestHash: `hash-${owner}-${atMs}`,
  idempotencyKey: null,
  upstream: upstream({ createdAt: at(atMs) }),
  at: at(atMs),
  ...overrides,
});

const queued = (owner: string, atMs: number, images?: number, sent = true): NewQueuedJob => ({
  owner,
  request: request(images),
  requestHash: `hash-q-${owner}-${atMs}`,
  idempotencyKey: null,
  at: at(atMs),
  sendStartedAt: sent ? at(atMs) : null,
});

const failed = (atMs: number, result: AiEditResult | null = null): UpstreamTaskState =>
  upstream({ status: 'ERROR', errors: [{ message: 'it failed', createdAt: at(atMs) }], result });

async function allJobs(store: JobStore, owner: string): Promise<Job[]> {
  return (await store.listJobs({ owner, limit: 10_000 })).jobs;
}

/** The credits of `jobs` created at or after `sinceMs`, by the rule itself (caller-store.ts). */
const referenceCredits = (jobs: readonly Job[], sinceMs: number): number =>
  jobs
    .filter((job) => job.createdAt.getTime() >= sinceMs && !(job.status === 'ERROR' && job.result === null))
    .reduce((sum, job) => sum + 2 * (job.request.output?.numberOfImages ?? 1), 0);

/**
 * Asserts that every owner's counters agree with its jobs: the unfinished count, and the credits from each of the
 * three days' midnights. Returns the figures, so that a test can also name them.
 */
async function expectCountersAgree(store: JobStore, owners: readonly string[]) {
  const figures: Record<string, { unfinished: number; yesterday: number; today: number; tomorrow: number }> = {};
  for (const owner of owners) {
    const jobs = await allJobs(store, owner);
    const unfinished = jobs.filter((job) => !isFinalStatus(job.status)).length;
    expect(await store.countUnfinished(owner, 10_000), `${owner}: unfinished`).toBe(unfinished);
    expect(await store.countUnfinished(owner, 1), `${owner}: unfinished at most 1`).toBe(Math.min(unfinished, 1));
    const credits = { yesterday: 0, today: 0, tomorrow: 0 };
    for (const [day, since] of [
      ['yesterday', YESTERDAY],
      ['today', TODAY],
      ['tomorrow', TOMORROW],
    ] as const) {
      const counted = await store.callers.creditsSpent(owner, at(since));
      expect(counted, `${owner}: credits since ${day}`).toBe(referenceCredits(jobs, since));
      credits[day] = counted;
    }
    figures[owner] = { unfinished, ...credits };
  }
  return figures;
}

/**
 * Every kind of write that moves a counter, with `check` after each (and the day boundary's own assertions when
 * `counted`: false for a store migrated only to before the counters).
 */
async function writeEverything(store: JobStore, check: () => Promise<unknown>, counted = true) {
  const accepted = await store.insert(submitted('alice', TODAY + 3_600_000, 3));
  const sending = await store.insertQueued(queued('alice', TODAY + 7_200_000, 2));
  const waiting = await store.insertQueued(queued('alice', TODAY + 7_300_000, 4, false));
  await store.insert(
    submitted('alice', TODAY + 10_800_000, undefined, { upstream: upstream({ status: 'DONE', result: RESULT }) }),
  );
  const lateYesterday = await store.insert(submitted('alice', TODAY - 60_000, 4));
  const bobs = await store.insert(submitted('bob', TODAY + 1_000, 2));
  // A prompt that holds \u0000 and the key's own text: neither may confuse how the images are read.
  await store.insert(
    submitted('bob', TODAY + 2_000, 2, { request: request(2, 'say "numberOfImages":4 \u0000 twice') }),
  );
  await store.insert(submitted('bob', TODAY + 3_000, undefined, { request: request(undefined, '"numberOfImages":3') }));
  // Refused at once by Claid: inserted as ERROR without a result, so it never cost anything.
  await store.insert(submitted('carol', TODAY + 4_000, 2, { upstream: failed(TODAY + 4_000) }));
  await check();

  await store.applyUpstreamState(accepted.id, upstream({ status: 'PROCESSING' }), at(TODAY + 3_700_000));
  await check();
  // An errors-only change moves nothing.
  await store.applyUpstreamState(
    accepted.id,
    upstream({ status: 'PROCESSING', errors: [{ message: 'slow', createdAt: at(TODAY) }] }),
    at(TODAY + 3_750_000),
  );
  await store.applyUpstreamState(accepted.id, upstream({ status: 'DONE', result: RESULT }), at(TODAY + 3_800_000));
  await check();
  // ERROR without a result gives the credits back; with one, they stay spent.
  await store.applyUpstreamState(sending.id, failed(TODAY + 7_400_000), at(TODAY + 7_400_000));
  await store.applyUpstreamState(bobs.id, failed(TODAY + 7_400_000, RESULT), at(TODAY + 7_400_000));
  await check();
  // Yesterday's job ends ERROR today: yesterday's count changes, today's does not.
  const before = counted ? await expectCountersAgree(store, ['alice']) : undefined;
  await store.applyUpstreamState(lateYesterday.id, failed(TODAY + 7_500_000), at(TODAY + 7_500_000));
  if (before) {
    const after = await expectCountersAgree(store, ['alice']);
    expect(after.alice!.today).toBe(before.alice!.today);
    expect(after.alice!.yesterday).toBe(before.alice!.yesterday - 8);
    expect(after.alice!.unfinished).toBe(before.alice!.unfinished - 1);
  }
  // Discarded (Claid refused the submit): gone, and with it its share.
  await store.discardQueued(waiting.id);
  await check();
  // A sender that died: its job ends ERROR without a result.
  await store.insertQueued(queued('alice', TODAY + 8_000_000, 2));
  await store.insertQueued(queued('bob', TODAY + 8_000_000, 1));
  const ended = await store.endUnsettledSubmits(
    { sentBefore: at(TODAY + 9_000_000) },
    { code: 'UPSTREAM_OUTCOME_UNKNOWN', message: 'unknown' },
    at(TODAY + 9_000_000),
  );
  expect(ended).toHaveLength(2);
  await check();
}

export function describeCallerCountersContract(
  name: string,
  open: () => Promise<JobStore>,
  openAt: (version: number) => Promise<JobStore>,
  versionBeforeCounters: number,
): void {
  describe(`per-caller counters: ${name}`, () => {
    const opened: JobStore[] = [];
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    it('agree with the jobs after every kind of write', async () => {
      const store = await open();
      opened.push(store);
      const owners = ['alice', 'bob', 'carol', 'nobody'];
      await writeEverything(store, () => expectCountersAgree(store, owners));
      const figures = await expectCountersAgree(store, owners);
      // Named, so that a counter that counts nothing cannot agree with a reference that counts nothing.
      expect(figures).toEqual({
        alice: { unfinished: 0, yesterday: 8, today: 8, tomorrow: 0 },
        bob: { unfinished: 2, yesterday: 10, today: 10, tomorrow: 0 },
        carol: { unfinished: 0, yesterday: 0, today: 0, tomorrow: 0 },
        nobody: { unfinished: 0, yesterday: 0, today: 0, tomorrow: 0 },
      });
      // The counters are per UTC day: an instant that is not a midnight is a caller's mistake, not a query.
      await expect(store.callers.creditsSpent('alice', at(TODAY + 1))).rejects.toThrow(RangeError);
    });

    it('backfills the counters of an existing database when it migrates, and keeps them from then on', async () => {
      const store = await openAt(versionBeforeCounters);
      opened.push(store);
      await writeEverything(store, async () => {}, false);
      const tomorrows = await store.insert(submitted('alice', TOMORROW + 1_000, 2));
      await store.migrate();
      const owners = ['alice', 'bob', 'carol'];
      expect(await expectCountersAgree(store, owners)).toEqual({
        alice: { unfinished: 1, yesterday: 12, today: 12, tomorrow: 4 },
        bob: { unfinished: 2, yesterday: 10, today: 10, tomorrow: 0 },
        carol: { unfinished: 0, yesterday: 0, today: 0, tomorrow: 0 },
      });
      await store.insert(submitted('alice', TODAY + 10_000_000, 1));
      await store.applyUpstreamState(tomorrows.id, failed(TOMORROW + 2_000), at(TOMORROW + 2_000));
      expect((await expectCountersAgree(store, owners)).alice).toEqual({
        unfinished: 1,
        yesterday: 10,
        today: 10,
        tomorrow: 0,
      });
    });
  });
}

export { expectCountersAgree, failed, queued, RESULT, submitted, TODAY, upstream };
