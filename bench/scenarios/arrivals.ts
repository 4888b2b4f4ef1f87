import { ArrivalsMode, CLAID, GENERATIONS, type TrackedArrival } from '../lib/arrivals-mode.js';
import { arrivalDurations, poissonArrivals } from '../lib/durations.js';
import { type Scenario, table } from '../lib/scenario.js';
import { percentile, round, sleep, summarize } from '../lib/stats.js';

// Jobs arriving at random (Poisson) at 10, 30 and 50 a minute, each lasting a log-normal time upstream, each with
// one graphql-ws subscriber, against three gateways at once, each on its own simulator enforcing Claid's 4/s and
// 120/min and its generation limit (1/s, 60/min): POLL_STRATEGY=fixed, learned, and learned with Claid's webhooks.
// All three face the same arrivals and the same durations (seeded). Per rate: a warm-up (not counted: the learned
// schedule needs history), a measured window, then a cool-down with arrivals going on until the measured jobs are
// final (or a limit passes). See bench/README.md.

const MODES = [
  { name: 'fixed', env: { POLL_STRATEGY: 'fixed' }, webhooks: false },
  { name: 'learned', env: { POLL_STRATEGY: 'learned' }, webhooks: false },
  { name: 'webhooks', env: { POLL_STRATEGY: 'learned' }, webhooks: true },
];
/** BENCH_ARRIVAL_RATES=50 (or 30,50) runs only those rates, for a quicker look at one. */
const DEFAULT_RATES = [10, 30, 50];
const RATES = process.env.BENCH_ARRIVAL_RATES?.split(',').map(Number) ?? DEFAULT_RATES;
/** The first warm-up runs at least this fast, so that the learned schedule has history (20 jobs of a kind). */
const FIRST_WARMUP_RATE = 30;

interface Phase {
  tag: string;
  perMinute: number;
  ms: number;
}

/** Arrivals at `perMinute` for `ms`, sent to every mode at the same moments; stops early when `until` says so. */
async function arrive(
  modes: ArrivalsMode[],
  phase: Phase,
  seed: number,
  counter: { n: number },
  until?: () => boolean,
) {
  const t0 = Date.now();
  for (const at of poissonArrivals(phase.perMinute, phase.ms, seed)) {
    const wait = t0 + at - Date.now();
    if (wait > 0) await sleep(wait);
    if (until?.()) return;
    const n = counter.n++;
    for (const mode of modes) void mode.arrive(phase.tag, n);
  }
  const rest = t0 + phase.ms - Date.now();
  if (rest > 0 && !until) await sleep(rest);
}

interface Snapshot {
  r429: number;
  /** The simulator's 429s by what was refused and by which window (`read:minute`, `generation:second`, ...). */
  r429By: Record<string, number>;
  gateway429: number;
  webhooks: number;
}

async function snapshot(mode: ArrivalsMode): Promise<Snapshot> {
  const s = await mode.sim.rpc<{
    byStatus: Record<string, number>;
    webhooks: number;
    rateLimited: Record<string, number>;
  }>('stats');
  const b = await mode.gateway.rpc<{ rateLimited: number }>('budget');
  return { r429: s.byStatus['429'] ?? 0, r429By: s.rateLimited, gateway429: b.rateLimited, webhooks: s.webhooks };
}

function countsSince(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(after)) if (n - (before[key] ?? 0) > 0) out[key] = n - (before[key] ?? 0);
  return out;
}

/** Time in QUEUED: from the job's QUEUED entry to the next one in its history; 0 without one. */
function queueWaitMs(a: TrackedArrival): number | undefined {
  const at = a.history.findIndex((h) => h.status === 'QUEUED');
  if (at < 0) return a.history.length > 0 ? 0 : undefined;
  const next = a.history[at + 1];
  return next ? Date.parse(next.at) - Date.parse(a.history[at]!.at) : undefined;
}

async function figures(mode: ArrivalsMode, tag: string, windowMs: number, before: Snapshot) {
  const measured = mode.arrivals.filter((a) => a.tag === tag);
  const taken = measured.filter((a) => a.jobId);
  const ids = taken.map((a) => a.upstreamId).filter((id): id is number => id !== null);
  const finishedAt = await mode.sim.rpc<Record<string, number | null>>('finishedAt', ids);
  const stats = await mode.sim.rpc<{ readsByTask: Record<string, number> }>('stats');
  const after = await snapshot(mode);
  const done = taken.filter((a) => a.finalStatus === 'DONE');
  const delays = done.flatMap((a) => {
    const upstream = a.upstreamId === null ? undefined : finishedAt[a.upstreamId];
    return upstream ? [(a.finalAt! - upstream) / 1000] : [];
  });
  const reads = taken.reduce((sum, a) => sum + (a.upstreamId === null ? 0 : (stats.readsByTask[a.upstreamId] ?? 0)), 0);
  const waits = taken.map(queueWaitMs).filter((w): w is number => w !== undefined);
  const refused: Record<string, number> = {};
  for (const a of measured) if (a.refused) refused[a.refused] = (refused[a.refused] ?? 0) + 1;
  const errors = measured.filter((a) => a.error);
  return {
    mode: mode.spec.name,
    arrived: measured.length,
    taken: taken.length,
    refused,
    errors: errors.length,
    firstError: errors[0]?.error,
    done: done.length,
    otherFinal: taken.filter((a) => a.finalStatus && a.finalStatus !== 'DONE').length,
    unfinished: taken.filter((a) => !a.finalStatus).length,
    upstreamReads: reads,
    readsPerFinishedJob: done.length > 0 ? reads / done.length : NaN,
    detectionDelayS: summarize(delays),
    detectionDelayP95S: percentile(delays, 95),
    simulator429s: after.r429 - before.r429,
    simulator429sBy: countsSince(after.r429By, before.r429By),
    gateway429sSeen: after.gateway429 - before.gateway429,
    webhooksSent: after.webhooks - before.webhooks,
    queueWaitP95S: percentile(waits, 95) / 1000,
    queueWaitMaxS: waits.length > 0 ? Math.max(...waits) / 1000 : NaN,
    jobsCarriedPerMinute: done.length / (windowMs / 60_000),
  };
}

type Row = Awaited<ReturnType<typeof figures>>;

export const arrivals: Scenario = async ({ quick, verbose, log }) => {
  const warmupMs = quick ? 10_000 : 60_000;
  const firstWarmupMs = quick ? 20_000 : 75_000;
  const measureMs = quick ? 20_000 : 180_000;
  // Long enough for a job that arrived at the window's end to wait in the queue and run a long duration (p99 ~64 s).
  const cooldownMaxMs = quick ? 15_000 : 120_000;
  const modes: ArrivalsMode[] = [];
  const counter = { n: 0 };
  const results: { perMinute: number; modes: Row[] }[] = [];
  try {
    for (const spec of MODES) modes.push(await ArrivalsMode.start(spec, arrivalDurations(13), verbose));
    log(`${modes.length} gateways and simulators up`);
    for (const [at, perMinute] of RATES.entries()) {
      // Seeds by the rate's place in the full list, so that BENCH_ARRIVAL_RATES=30 faces the full run's 30/min jobs.
      const i = DEFAULT_RATES.includes(perMinute) ? DEFAULT_RATES.indexOf(perMinute) : at;
      const warm =
        at === 0
          ? { perMinute: Math.max(perMinute, FIRST_WARMUP_RATE), ms: firstWarmupMs }
          : { perMinute, ms: warmupMs };
      log(`${perMinute}/min: warm-up ${warm.ms / 1000} s at ${warm.perMinute}/min`);
      await arrive(modes, { tag: 'warmup', ...warm }, 100 + i, counter);
      await Promise.all(modes.map((m) => m.gateway.rpc('relearn')));
      const before = await Promise.all(modes.map(snapshot));
      const tag = String(perMinute);
      log(`${perMinute}/min: measuring ${measureMs / 1000} s`);
      await arrive(modes, { tag, perMinute, ms: measureMs }, 200 + i, counter);
      const allFinal = () => modes.every((m) => m.running(tag) === 0);
      await arrive(modes, { tag: 'cooldown', perMinute, ms: cooldownMaxMs }, 300 + i, counter, allFinal);
      const rows = await Promise.all(modes.map((m, k) => figures(m, tag, measureMs, before[k]!)));
      results.push({ perMinute, modes: rows });
      for (const r of rows)
        log(
          `${perMinute}/min ${r.mode}: ${r.done}/${r.taken} done, refused ${JSON.stringify(r.refused)}, ` +
            `${round(r.readsPerFinishedJob)} reads/job, delay p50 ${round(r.detectionDelayS.p50, 1)} p95 ` +
            `${round(r.detectionDelayP95S, 1)} max ${round(r.detectionDelayS.max, 1)} s, 429s ${r.simulator429s} ` +
            `${JSON.stringify(r.simulator429sBy)}, queue wait p95 ${round(r.queueWaitP95S, 1)} s, ` +
            `unfinished ${r.unfinished}` +
            (r.firstError ? `, error: ${r.firstError}` : ''),
        );
    }
  } finally {
    await Promise.all(modes.map((m) => m.stop()));
  }
  const markdown = [
    `Poisson arrivals, log-normal durations (median 20 s, σ 0.5, 5–90 s; PROCESSING at 20–60 % of each), one ` +
      `graphql-ws subscriber per job; three gateways at once, each on its own simulator enforcing ${CLAID.perSecond}/s ` +
      `and ${CLAID.perMinute}/min and ${GENERATIONS.perSecond} generation/s, ${GENERATIONS.perMinute}/min; ` +
      `POLL_INTERVAL_MS=1000, the gateway's default budget. Per rate: ${warmupMs / 1000} s of warm-up ` +
      `(the first: ${firstWarmupMs / 1000} s at ≥ ${FIRST_WARMUP_RATE}/min), ${measureMs / 1000} s measured, then ` +
      `arrivals go on for up to ${cooldownMaxMs / 1000} s until the measured jobs are final. Delay = the subscriber's ` +
      "DONE − the task's finish upstream. The machine is shared with other work (2 cores).",
    '',
    table(
      [
        'jobs/min',
        'mode',
        'jobs (refused)',
        'reads / finished job',
        'delay p50 / p95 / max (s)',
        '429s',
        'queue wait p95 (s)',
        'carried / min',
        'unfinished',
      ],
      results.flatMap(({ perMinute, modes: rows }) =>
        rows.map((r) => [
          perMinute,
          r.mode,
          `${r.taken} (${Object.values(r.refused).reduce((x, y) => x + y, 0)})`,
          round(r.readsPerFinishedJob),
          `${round(r.detectionDelayS.p50, 1)} / ${round(r.detectionDelayP95S, 1)} / ${round(r.detectionDelayS.max, 1)}`,
          r.simulator429s,
          round(r.queueWaitP95S, 1),
          round(r.jobsCarriedPerMinute, 1),
          r.unfinished + r.otherFinal + r.errors,
        ]),
      ),
    ),
  ].join('\n');
  return {
    result: {
      rates: RATES,
      warmupMs,
      firstWarmupMs,
      measureMs,
      cooldownMaxMs,
      durations: arrivalDurations(13),
      limits: { account: CLAID, generations: GENERATIONS },
      results,
    },
    markdown,
  };
};
