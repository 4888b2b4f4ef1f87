import { describe, expect, it } from 'vitest';
import type { AiEditRequest, Job, JobStatus, StatusChange } from '../../src/domain/job.js';
import {
  changedAtMs,
  DurationModel,
  durationKey,
  HAZARD_SHARE,
  LOOSE_TUNING,
  MAX_GAP_SHARE,
  MIN_SAMPLES,
  nextReadAt,
  RECONCILE_QUANTILE,
  reconcileAt,
  tuningForBudgetUse,
  upstreamStartMs,
} from '../../src/services/jobs/duration-model.js';

// The estimator and the "next read" rule, on histories built here: no store, no clock.

const T0 = Date.UTC(2025, 0, 1);
const V1_ONE: AiEditRequest = { input: 'https://example.com/in.png', options: { prompt: 'p', model: 'v1' } };
const V2_FOUR: AiEditRequest = { ...V1_ONE, output: { numberOfImages: 4 }, options: { prompt: 'p', model: 'v2' } };
const POLL = 1000;
const BACKGROUND = 10_000;

function job(history: [JobStatus, number][], request: AiEditRequest = V1_ONE, start = T0): Job {
  const changes: StatusChange[] = history.map(([status, ms]) => ({ status, at: new Date(start + ms) }));
  const last = changes[changes.length - 1]!;
  const final = ['DONE', 'ERROR', 'CANCELLED'].includes(last.status);
  return {
    id: `job-${Math.random()}`,
    owner: 'alice',
    upstreamId: 1,
    status: last.status,
    request,
    requestHash: 'h',
    idempotencyKey: null,
    errors: [],
    result: null,
    history: changes,
    createdAt: changes[0]!.at,
    updatedAt: last.at,
    lastPolledAt: last.at,
    finishedAt: final ? last.at : null,
  };
}

/** A DONE job that took `totalMs`, seen PROCESSING at `processingMs` when given. */
const done = (totalMs: number, processingMs?: number, request: AiEditRequest = V1_ONE): Job =>
  job(
    processingMs === undefined
      ? [
          ['ACCEPTED', 0],
          ['DONE', totalMs],
        ]
      : [
          ['ACCEPTED', 0],
          ['PROCESSING', processingMs],
          ['DONE', totalMs],
        ],
    request,
  );

const running = (request: AiEditRequest = V1_ONE): Job => job([['ACCEPTED', 0]], request);

/** Seeded, so that a failing case can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Log-normal durations like the benchmark's: median 20 s, sigma 0.5, clamped to 5-90 s. */
function logNormal(rand: () => number): number {
  const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return Math.min(90_000, Math.max(5_000, 20_000 * Math.exp(0.5 * z)));
}

/** The reads the rule makes of a job submitted at T0 that finishes `durationMs` later, up to the one that sees it. */
function readsUntilDone(
  model: DurationModel,
  durationMs: number,
  tuning?: { hazardShare: number; maxGapShare: number },
): number[] {
  const reads: number[] = [];
  let last = T0;
  for (;;) {
    last = nextReadAt({
      basis: model.basis(running()),
      lastReadAt: last,
      pollIntervalMs: POLL,
      backgroundPollIntervalMs: BACKGROUND,
      ...(tuning ? { tuning } : {}),
    });
    reads.push(last);
    if (last >= T0 + durationMs) return reads;
  }
}

describe('DurationModel and nextReadAt', () => {
  it('keeps today’s cadence until enough jobs of the kind have finished', () => {
    const few = DurationModel.fromJobs(Array.from({ length: MIN_SAMPLES - 1 }, () => done(20_000)));
    expect(few.basis(running())).toBeNull();
    expect(few.estimatedFinishAt(running(), T0)).toBeNull();
    expect(
      nextReadAt({ basis: null, lastReadAt: T0, pollIntervalMs: POLL, backgroundPollIntervalMs: BACKGROUND }),
    ).toBe(T0 + POLL);

    const enough = DurationModel.fromJobs(Array.from({ length: MIN_SAMPLES }, () => done(20_000)));
    expect(enough.basis(running())).not.toBeNull();
  });

  it('keeps kinds apart, learns only from DONE jobs, and counts from the upstream’s start, not a gateway queue', () => {
    const jobs = [
      ...Array.from({ length: MIN_SAMPLES }, () => done(60_000, undefined, V2_FOUR)),
      ...Array.from({ length: MIN_SAMPLES }, () =>
        job([
          ['ACCEPTED', 0],
          ['ERROR', 1000],
        ]),
      ),
    ];
    const model = DurationModel.fromJobs(jobs);
    expect(durationKey(V2_FOUR)).toBe('v2/4');
    expect(model.samples(running())).toBe(0);
    expect(model.basis(running())).toBeNull();
    expect(model.estimatedFinishAt(running(V2_FOUR), T0)).toEqual(new Date(T0 + 60_000));

    const queued = job([
      ['QUEUED' as JobStatus, 0],
      ['ACCEPTED', 7000],
    ]);
    expect(upstreamStartMs(queued)).toBe(T0 + 7000);
  });

  it('never schedules two reads of a job within POLL_INTERVAL_MS, whatever the history and the job', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = random(seed);
      const spread = rand() < 0.5 ? () => logNormal(rand) : () => 500 + rand() * 3000;
      const history = Array.from({ length: MIN_SAMPLES + Math.floor(rand() * 200) }, () => {
        const total = spread();
        return done(total, rand() < 0.7 ? total * rand() : undefined);
      });
      const model = DurationModel.fromJobs(history);
      let current = running();
      let last = T0 + Math.floor(rand() * 5000);
      for (let read = 0; read < 60; read++) {
        const next = nextReadAt({
          basis: model.basis(current),
          lastReadAt: last,
          pollIntervalMs: POLL,
          backgroundPollIntervalMs: BACKGROUND,
        });
        expect(next - last, `seed ${seed}, read ${read}`).toBeGreaterThanOrEqual(POLL);
        expect(next - last, `seed ${seed}, read ${read}`).toBeLessThanOrEqual(30_000);
        last = next;
        if (current.status !== 'PROCESSING' && rand() < 0.2) {
          current = job([
            ['ACCEPTED', 0],
            ['PROCESSING', last - T0],
          ]);
        }
      }
    }
  });

  it('reads seldom while a result is unlikely and where jobs like it end', () => {
    // Every such job took 20-22 s.
    const model = DurationModel.fromJobs(Array.from({ length: 50 }, (_, i) => done(20_000 + (i % 5) * 500)));
    const reads = readsUntilDone(model, 21_700).map((at) => at - T0);
    // Nothing in the first 16 s (the history's DONE was seen up to a gap late), then reads near the 20-22 s window.
    expect(reads[0]).toBeGreaterThanOrEqual(16_000);
    expect(reads[0]).toBeLessThanOrEqual(22_000);
    const gaps = reads.slice(1).map((at, i) => at - reads[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(POLL);
    expect(reads[reads.length - 1]! - 21_700).toBeLessThan(HAZARD_SHARE * 21_000);
    expect(reads.length).toBeLessThanOrEqual(3);
  });

  it('spends a gap where few jobs end on a wide one, and narrows it where many do', () => {
    const rand = random(3);
    const model = DurationModel.fromJobs(Array.from({ length: 500 }, () => done(logNormal(rand))));
    const gapAt = (ageMs: number) =>
      nextReadAt({
        basis: model.basis(running()),
        lastReadAt: T0 + ageMs,
        pollIntervalMs: POLL,
        backgroundPollIntervalMs: BACKGROUND,
      }) -
      T0 -
      ageMs;
    // From the submit, the first read waits until finishing becomes likely (about 11 s on these durations).
    expect(gapAt(0)).toBeGreaterThan(8_000);
    // Near the median, where the hazard is highest, gaps are short; in the tail, they are capped, not stretched.
    expect(gapAt(20_000)).toBeLessThanOrEqual(gapAt(12_000));
    expect(gapAt(60_000)).toBeLessThanOrEqual(MAX_GAP_SHARE * 20_500 + 1);
  });

  it('on the benchmark’s durations, reads fewer times per job than the fixed cadence and detects DONE soon', () => {
    const rand = random(7);
    const model = DurationModel.fromJobs(Array.from({ length: 500 }, () => done(logNormal(rand))));
    let reads = 0;
    const delays: number[] = [];
    const jobs = 2000;
    for (let i = 0; i < jobs; i++) {
      const duration = logNormal(rand);
      const made = readsUntilDone(model, duration);
      reads += made.length;
      delays.push(made[made.length - 1]! - T0 - duration);
    }
    delays.sort((a, b) => a - b);
    // The fixed cadence would read ~21 times per job (one per second): the learned one about three.
    expect(reads / jobs).toBeLessThan(3.5);
    expect(delays[Math.floor(jobs / 2)]).toBeLessThan(3_500);
    expect(delays[Math.floor(jobs * 0.95)]).toBeLessThan(9_000);
  });

  it('reads denser while the account has room: loose knobs below 40 % of the minute, tight from 75 %', () => {
    expect(tuningForBudgetUse(0)).toEqual(LOOSE_TUNING);
    expect(tuningForBudgetUse(0.4)).toEqual(LOOSE_TUNING);
    expect(tuningForBudgetUse(0.75)).toEqual({ hazardShare: HAZARD_SHARE, maxGapShare: MAX_GAP_SHARE });
    expect(tuningForBudgetUse(1)).toEqual({ hazardShare: HAZARD_SHARE, maxGapShare: MAX_GAP_SHARE });
    const half = tuningForBudgetUse(0.575);
    expect(half.hazardShare).toBeCloseTo((LOOSE_TUNING.hazardShare + HAZARD_SHARE) / 2, 6);

    const rand = random(11);
    const model = DurationModel.fromJobs(Array.from({ length: 500 }, () => done(logNormal(rand))));
    const measure = (tuning: { hazardShare: number; maxGapShare: number }) => {
      let reads = 0;
      const delays: number[] = [];
      for (let i = 0; i < 1000; i++) {
        const duration = logNormal(rand);
        const made = readsUntilDone(model, duration, tuning);
        reads += made.length;
        delays.push(made[made.length - 1]! - T0 - duration);
      }
      delays.sort((a, b) => a - b);
      return { reads: reads / 1000, p95: delays[950]! };
    };
    const loose = measure(tuningForBudgetUse(0.2));
    const tight = measure(tuningForBudgetUse(0.9));
    // More reads buy an earlier DONE: the loose knobs roughly halve p95 for about twice the reads.
    expect(loose.reads).toBeGreaterThan(tight.reads * 1.5);
    expect(loose.p95).toBeLessThan(tight.p95 * 0.7);
  });

  it('learns a finish inside its read gap: the middle of (since, at], not the read that saw it', () => {
    // 20 jobs whose DONE was seen at 24 s by a read 4 s after the one before: each most likely ended at 22 s.
    const read = (at: number, since: number): Job => {
      const j = done(at);
      const last = j.history[j.history.length - 1]!;
      return { ...j, history: [...j.history.slice(0, -1), { ...last, since: new Date(T0 + since) }] };
    };
    const model = DurationModel.fromJobs(Array.from({ length: MIN_SAMPLES }, () => read(24_000, 20_000)));
    const basis = model.basis(running())!;
    expect(basis.sortedMs.every((ms) => ms === 22_000)).toBe(true);
    // Every finish placed in its gap: nothing to add for detection lag. Rows without `since` keep the old estimate.
    expect(basis.detectionLagMs).toBe(0);
    const old = DurationModel.fromJobs(Array.from({ length: MIN_SAMPLES }, () => done(24_000))).basis(running())!;
    expect(old.detectionLagMs).toBeCloseTo((24_000 * MAX_GAP_SHARE) / 2, 6);
    expect(changedAtMs({ status: 'DONE', at: new Date(T0 + 24_000), since: new Date(T0 + 20_000) })).toBe(T0 + 22_000);
    expect(changedAtMs({ status: 'DONE', at: new Date(T0 + 24_000) })).toBe(T0 + 24_000);
  });

  it('judges a PROCESSING job by durations from PROCESSING, and estimates the median finish of jobs still running', () => {
    // Jobs wait 0-40 s before PROCESSING, then take exactly 10 s: from the start they are spread, from PROCESSING not.
    const model = DurationModel.fromJobs(Array.from({ length: 41 }, (_, i) => done(i * 1000 + 10_000, i * 1000)));
    const processing = job([
      ['ACCEPTED', 0],
      ['PROCESSING', 5000],
    ]);
    const basis = model.basis(processing);
    expect(basis?.originMs).toBe(T0 + 5000);
    expect(model.estimatedFinishAt(processing, T0 + 5000)).toEqual(new Date(T0 + 15_000));
    const next = nextReadAt({
      basis,
      lastReadAt: T0 + 5000,
      pollIntervalMs: POLL,
      backgroundPollIntervalMs: BACKGROUND,
    });
    expect(next).toBe(T0 + 15_000);

    // Not yet PROCESSING: the whole spread counts, and ages the job has outlived drop out of the estimate.
    expect(model.basis(running())?.originMs).toBe(T0);
    expect(model.estimatedFinishAt(running(), T0)).toEqual(new Date(T0 + 30_000));
    expect(model.estimatedFinishAt(running(), T0 + 40_000)).toEqual(new Date(T0 + 46_000));
  });

  it('reconciles a pushed job only once nearly every job like it would have been pushed final', () => {
    const rand = random(11);
    const totals = Array.from({ length: 400 }, () => logNormal(rand));
    const model = DurationModel.fromJobs(totals.map((total) => done(total)));
    const sorted = [...totals].sort((a, b) => a - b);
    for (const ageMs of [1_000, 8_000, 20_000, 40_000, 80_000, 200_000]) {
      const at = reconcileAt({
        basis: model.basis(running()),
        lastReadAt: T0 + ageMs,
        backgroundPollIntervalMs: BACKGROUND,
      });
      // Never before the background cadence, never more than 30 s after it.
      expect(at - T0 - ageMs).toBeGreaterThanOrEqual(BACKGROUND);
      expect(at - T0 - ageMs).toBeLessThanOrEqual(BACKGROUND + 30_000);
      // Young jobs wait until 95 % of the jobs still running at their age have ended.
      const later = sorted.filter((d) => d > ageMs);
      if (later.length >= 20) {
        const expected = later[Math.floor(RECONCILE_QUANTILE * later.length)]!;
        expect(at - T0).toBeGreaterThanOrEqual(Math.min(expected, ageMs + BACKGROUND + 30_000) - 1);
      }
    }
    // Without history: the background cadence.
    expect(reconcileAt({ basis: null, lastReadAt: T0, backgroundPollIntervalMs: BACKGROUND })).toBe(T0 + BACKGROUND);
  });
});
