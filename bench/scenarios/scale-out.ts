import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Child, procMemory } from '../lib/child.js';
import { type Scenario, table } from '../lib/scenario.js';
import { startSchedSampler } from '../lib/schedstat.js';
import { startGatewayChild, startSimulatorChild } from '../lib/stack.js';
import { mb, round, sleep, summarize } from '../lib/stats.js';
import { LOADGEN_CORE, type LoadGenerator, SATURATED, startLoadGenerator } from '../lib/subscriber-pool.js';
import {
  checkWalks,
  FROZEN_STEP_MS,
  fanOutLatencies,
  latencyByStatus,
  PER_CONNECTION,
  readsPerJob,
  runSizes,
  STEP_MS,
  type Sub,
  submitJobs,
  waitForIdle,
  walkJobs,
} from '../lib/subscribers.js';

// The subscription benchmark (bench/scenarios/subscriptions.ts, moving parts in bench/lib/subscribers.ts) against
// THREE gateway processes sharing one Redis (REDIS_URL, a fresh REDIS_KEY_PREFIX per run) and one fresh PostgreSQL
// database (DATABASE_URL, created per run and dropped after), all on one simulator. All three gateways are pinned to
// core 0, like the single gateway, so they share one core between them; the simulator and the load generator are on
// core 1 (Redis and PostgreSQL are not pinned).
//
// Every job is submitted through instance a; its lease (who reads it upstream) goes to whichever instance's poller
// claims it first, and every other instance hears the changes through Redis. Sockets go to the instances round-robin
// (socket k -> instance k % 3), and every socket carries a subscriber of every job (up to 100 jobs), so each instance
// delivers changes read by the others. Every event is checked as in the single-instance scenario.

const POLL_INTERVAL_MS = 1_000;
const INSTANCES = ['a', 'b', 'c'] as const;
/** Jobs are submitted through this instance (index into INSTANCES). */
const SUBMIT_VIA = 0;
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Memory {
  rss: number;
  heapUsed: number;
}
interface Cpu {
  user: number;
  system: number;
}
interface PollerStats {
  reads: number;
  readsByJob: Record<string, number>;
  leasedElsewhere: number;
}

/** A database of this run's own on the PostgreSQL server of POSTGRES_URL; drop() removes it (WITH (FORCE)). */
async function freshDatabase(): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `bench_scaleout_${Date.now()}_${process.pid}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

/** Deletes every Redis key under `prefix` (leases, watch sets, budget keys); returns how many there were. */
async function dropRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

const cpuMs = (a: Cpu, b: Cpu) => (b.user + b.system - a.user - a.system) / 1000;

async function runOne(
  subscribers: number,
  jobCount: number,
  instanceCount: number,
  warmUp: { subscribers: number; jobs: number },
  settleMs: number,
  verbose: boolean,
  log: (m: string) => void,
) {
  const db = await freshDatabase();
  const keyPrefix = `bench-scaleout-${randomBytes(4).toString('hex')}:`;
  const sim = await startSimulatorChild({ stepMs: FROZEN_STEP_MS }, verbose);
  const gateways: Child[] = [];
  let loadGen: LoadGenerator | undefined;
  let redisKeysLeft = 0;
  try {
    // One after another: the first creates the schema in the fresh database.
    for (const name of INSTANCES.slice(0, instanceCount)) {
      gateways.push(
        await startGatewayChild(
          sim.info.url,
          {
            POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
            DATABASE_URL: db.url,
            REDIS_URL,
            REDIS_KEY_PREFIX: keyPrefix,
            INSTANCE_ID: `bench-${name}`,
          },
          verbose,
          `gateway-${name}`,
        ),
      );
    }
    const each = <T>(fn: (g: Child, i: number) => Promise<T>) => Promise.all(gateways.map(fn));

    // 0. Warm-up: a smaller walk of the same shape through the same processes, not measured. A fresh process
    // compiles the fan-out's code (V8's optimizing compiler, on the same core as the gateways) while its first
    // changes go out: once per process, so three fresh instances paid it three times on one core, in the middle of
    // the measured walk. A gateway in service has long been warm.
    if (warmUp.subscribers > 0) {
      const t0 = Date.now();
      const warm = await submitJobs([gateways[SUBMIT_VIA]!.info.url], sim.info.sampleUrl, warmUp.jobs);
      await waitForIdle(sim, 180_000);
      const warmGen = await startLoadGenerator(
        gateways.map((g) => `${g.info.url.replace(/^http/, 'ws')}/graphql`),
        warmUp.subscribers,
        warm.jobs,
        verbose,
      );
      try {
        await warmGen.subscribe();
        await walkJobs(sim, warm.tFirst, warm.tLast, (ms) => warmGen.waitForCompletion(ms));
      } finally {
        await warmGen.stop();
      }
      await sim.rpc('setStepMs', FROZEN_STEP_MS);
      log(`warmed up: ${warmUp.subscribers} subscribers on ${warmUp.jobs} job(s) walked in ${Date.now() - t0} ms`);
    }

    // 1. Jobs, submitted through one instance; their renders finish before anyone subscribes.
    const { jobs, tFirst, tLast } = await submitJobs([gateways[SUBMIT_VIA]!.info.url], sim.info.sampleUrl, jobCount);
    const renderWaitMs = await waitForIdle(sim, 180_000);

    // 2. Subscribe everyone, 100 subscriptions per WebSocket, socket k on instance k % 3.
    await sim.rpc('reset');
    const before = await each((g) => g.rpc<Memory>('memory'));
    const pollerBeforeSubscribing = await each((g) => g.rpc<PollerStats>('poller'));
    const connections = Math.ceil(subscribers / PER_CONNECTION);
    // Socket k on instance k % instances, in load-generator process k % processes (bench/lib/subscriber-pool.ts).
    const gen = await startLoadGenerator(
      gateways.map((g) => `${g.info.url.replace(/^http/, 'ws')}/graphql`),
      subscribers,
      jobs,
      verbose,
    );
    loadGen = gen;
    const socketsOf = gateways.map((_g, i) => gen.socketsOf(i));
    const instanceOf = (sub: Sub) => gen.gatewayOf(sub);
    const subscribeMs = await gen.subscribe();
    const after = await each((g) => g.rpc<Memory>('memory'));
    const tSubscribed = Date.now();
    const readsAtSubscribed = (await sim.rpc<{ readsByTask: Record<string, number> }>('stats')).readsByTask;
    const pollerBefore = await each((g) => g.rpc<PollerStats>('poller'));
    log(
      `${subscribers} subscribed over ${connections} sockets (${socketsOf.join('/')}) in ${subscribeMs} ms; RSS ` +
        gateways.map((_g, i) => `${INSTANCES[i]} ${mb(before[i]!.rss)} -> ${mb(after[i]!.rss)}`).join(', ') +
        ' MB',
    );

    // 2b. Everyone stays subscribed this long before the first change, the jobs polled at the watched cadence
    // meanwhile, as while the jobs render (the simulator keeps them frozen until the walk). A process's reads cost
    // it three to four times the CPU until V8 has compiled their code (bench/README.md), which a fresh gateway does
    // in its first seconds of polling and one in service has long done. BENCH_SCALE_OUT_SETTLE_MS (scaleOut below).
    if (settleMs > 0) {
      await sleep(settleMs);
      log(`settled: ${settleMs} ms watched before the first change`);
    }

    // 3. Three changes per job, STEP_MS apart; sample every gateway's RSS (and their sum) meanwhile.
    const peakRss = after.map((m) => m.rss);
    let peakRssSum = after.reduce((s, m) => s + m.rss, 0);
    const sampler = setInterval(() => {
      let sum = 0;
      gateways.forEach((g, i) => {
        const rss = procMemory(g.pid)?.rss ?? 0;
        if (rss > peakRss[i]!) peakRss[i] = rss;
        sum += rss;
      });
      if (sum > peakRssSum) peakRssSum = sum;
    }, 100);
    // And how many reads wait in each gateway's upstream budget (a grant there is three Redis round trips).
    const queuedMax = gateways.map(() => 0);
    let sampling = true;
    const budgetSampler = (async () => {
      while (sampling) {
        const stats = await each((g) => g.rpc<{ queued: number }>('budget'));
        stats.forEach((b, i) => {
          queuedMax[i] = Math.max(queuedMax[i]!, b.queued);
        });
        await sleep(250);
      }
    })();
    let skewWarnings: string[];
    const cpuBefore = await each((g) => g.rpc<Cpu>('cpu'));
    await gen.mark();
    // The gateways' main threads, then the load generator's, then the simulator's.
    const sched = startSchedSampler([...gateways.map((g) => g.pid), ...gen.pids, sim.pid]);
    const tWalk = Date.now();
    try {
      skewWarnings = await walkJobs(sim, tFirst, tLast, (ms) => gen.waitForCompletion(ms));
    } finally {
      sched.stop();
      clearInterval(sampler);
      sampling = false;
      await budgetSampler.catch(() => undefined);
    }
    const walkMs = Date.now() - tWalk;
    const cpuAfter = await each((g) => g.rpc<Cpu>('cpu'));
    const pollerAfter = await each((g) => g.rpc<PollerStats>('poller'));
    const budgets = await each((g) => g.rpc<{ rateLimited: number }>('budget'));

    // 4. Check every stream, then measure, per instance and in total.
    const { subs, load } = await gen.collect();
    const failed = subs.find((x) => x.error);
    if (failed) throw new Error(`subscription failed: ${failed.error}`);
    const fullWalks = checkWalks(subs);
    const steps = sched.steps(subs).map((x) => {
      const n = gateways.length;
      const m = gen.pids.length;
      return {
        status: x.status,
        windowMs: x.windowMs,
        gateways: { runMs: x.runMs.slice(0, n), waitMs: x.waitMs.slice(0, n) },
        loadGenerator: { runMs: x.runMs.slice(n, n + m), waitMs: x.waitMs.slice(n, n + m) },
        simulator: { runMs: x.runMs[n + m], waitMs: x.waitMs[n + m] },
      };
    });
    const stats = await sim.rpc<{ readsByTask: Record<string, number>; byStatus: Record<string, number> }>('stats');
    const perJob = readsPerJob(jobs, subs, readsAtSubscribed, stats.readsByTask, tSubscribed, POLL_INTERVAL_MS);

    /** Which instances read each job upstream (their pollers) from everyone subscribed to the end of the walk. */
    const readersByJob = new Map<string, Set<string>>();
    const instances = gateways.map((_g, i) => {
      const mine = subs.filter((s) => instanceOf(s) === i);
      const { latencies } = fanOutLatencies(mine);
      const ms = cpuMs(cpuBefore[i]!, cpuAfter[i]!);
      const jobsRead: string[] = [];
      const readWhileSubscribing = Object.entries(pollerBefore[i]!.readsByJob).filter(
        ([job, n]) => n > (pollerBeforeSubscribing[i]!.readsByJob[job] ?? 0),
      ).length;
      for (const [job, n] of Object.entries(pollerAfter[i]!.readsByJob)) {
        if (n > (pollerBefore[i]!.readsByJob[job] ?? 0)) {
          jobsRead.push(job);
          const readers = readersByJob.get(job) ?? new Set<string>();
          readers.add(INSTANCES[i]!);
          readersByJob.set(job, readers);
        }
      }
      return {
        instance: INSTANCES[i]!,
        instanceId: `bench-${INSTANCES[i]!}`,
        subscribers: mine.length,
        sockets: socketsOf[i]!,
        memory: {
          before: before[i]!,
          after: after[i]!,
          peakRssDuringFanOut: peakRss[i]!,
          rssPerSubscriberKB: round((after[i]!.rss - before[i]!.rss) / mine.length / 1024, 2),
          heapPerSubscriberKB: round((after[i]!.heapUsed - before[i]!.heapUsed) / mine.length / 1024, 2),
        },
        events: { total: mine.reduce((s, x) => s + x.events.length, 0), changes: latencies.length },
        fanOutLatencyMs: summarize(latencies),
        fanOutLatencyByStatusMs: latencyByStatus(mine),
        /** This gateway's CPU from the first change to the last completion (polls included), per change event it delivered. */
        cpu: {
          ms: round(ms, 0),
          shareOfWalk: round(ms / walkMs, 3),
          usPerEvent: round((ms * 1000) / latencies.length, 1),
        },
        upstream: {
          pollerReadsDuringWalk: pollerAfter[i]!.reads - pollerBefore[i]!.reads,
          jobsRead: jobsRead.length,
          leasedElsewhereDuringWalk: pollerAfter[i]!.leasedElsewhere - pollerBefore[i]!.leasedElsewhere,
          /** Jobs this instance's poller read while everyone was subscribing (before the walk). */
          jobsReadWhileSubscribing: readWhileSubscribing,
          /** Most reads waiting in this instance's budget at once, sampled every 250 ms during the walk. */
          budgetQueuedMax: queuedMax[i]!,
          budget429s: budgets[i]!.rateLimited,
        },
      };
    });

    const { latencies, lastByChange } = fanOutLatencies(subs);
    const totalCpuMs = instances.reduce((s, x) => s + x.cpu.ms, 0);
    const sum = (f: (m: Memory) => number, list: Memory[]) => list.reduce((s, m) => s + f(m), 0);
    const total = {
      subscribers,
      sockets: connections,
      memory: {
        beforeRss: sum((m) => m.rss, before),
        afterRss: sum((m) => m.rss, after),
        /** Peak of the three RSS figures' sum, sampled together every 100 ms. */
        peakRssSumDuringFanOut: peakRssSum,
        rssPerSubscriberKB: round((sum((m) => m.rss, after) - sum((m) => m.rss, before)) / subscribers / 1024, 2),
        heapPerSubscriberKB: round(
          (sum((m) => m.heapUsed, after) - sum((m) => m.heapUsed, before)) / subscribers / 1024,
          2,
        ),
      },
      events: {
        total: subs.reduce((s, x) => s + x.events.length, 0),
        changes: latencies.length,
        fullWalks,
        completed: subs.filter((s) => s.completed).length,
      },
      fanOutLatencyMs: summarize(latencies),
      fanOutLatencyByStatusMs: latencyByStatus(subs),
      lastSubscriberLatencyMs: summarize([...lastByChange.values()]),
      cpu: {
        ms: round(totalCpuMs, 0),
        shareOfWalk: round(totalCpuMs / walkMs, 3),
        usPerEvent: round((totalCpuMs * 1000) / latencies.length, 1),
      },
      upstream: {
        pollIntervalMs: POLL_INTERVAL_MS,
        readsWhileSubscribing: summarize(perJob.map((p) => p.readsWhileSubscribing)),
        readsWatched: perJob.reduce((s, p) => s + p.reads, 0),
        watchedIntervals: round(
          perJob.reduce((s, p) => s + p.intervals, 0),
          1,
        ),
        readsPerJobPerInterval: summarize(perJob.map((p) => p.perInterval)),
        maxReadsOneJob: Math.max(...perJob.map((p) => p.reads)),
        /** Most reads any job got beyond one per interval (<= 0: never more than one per interval). */
        maxExtraReads: Math.max(...perJob.map((p) => p.extra)),
        /** Jobs that more than one instance's poller read during the walk (a lease that moved). */
        jobsReadByMoreThanOneInstance: [...readersByJob.values()].filter((r) => r.size > 1).length,
        simulatorResponses: stats.byStatus,
        simulator429s: stats.byStatus['429'] ?? 0,
        perJob: perJob.map((p) => ({
          reads: p.reads,
          intervals: round(p.intervals, 2),
          perInterval: round(p.perInterval, 3),
        })),
        budget429s: instances.reduce((s, x) => s + x.upstream.budget429s, 0),
      },
    };
    return {
      subscribers,
      jobs: jobCount,
      submittedVia: INSTANCES[SUBMIT_VIA],
      shape: {
        instances: gateways.length,
        connections,
        subscriptionsPerConnection: PER_CONNECTION,
        subscribersPerJob: subscribers / jobCount,
      },
      stores: { database: db.name, redisKeyPrefix: keyPrefix },
      warmUp,
      renderWaitMs,
      subscribeMs,
      walkMs,
      loadGenerator: load,
      /** Per status step, the gateways' main threads: ms on the CPU and ms waiting for it (bench/lib/schedstat.ts). */
      steps,
      instances,
      total,
      skewWarnings,
    };
  } finally {
    await loadGen?.stop();
    await Promise.all(gateways.map((g) => g.stop()));
    await sim.stop();
    await db.drop().catch((error: unknown) => log(`could not drop database ${db.name}: ${String(error)}`));
    redisKeysLeft = await dropRedisKeys(keyPrefix).catch(() => -1);
    if (verbose) log(`dropped ${db.name}; deleted ${redisKeysLeft} Redis keys under ${keyPrefix}`);
  }
}

type Run = Awaited<ReturnType<typeof runOne>>;

const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
const fmtMs = (l: { p50: number; p99: number; max: number }) =>
  `${round(l.p50, 1)} / ${round(l.p99, 1)} / ${round(l.max, 1)}`;

export const scaleOut: Scenario = async ({ quick, verbose, log }) => {
  // BENCH_SCALE_OUT=10000x100,1000x1 runs just those (subscribers x jobs).
  const runs = runSizes(
    'BENCH_SCALE_OUT',
    quick
      ? [
          { subscribers: 600, jobs: 30 },
          { subscribers: 600, jobs: 1 },
        ]
      : [
          { subscribers: 10_000, jobs: 100 },
          { subscribers: 10_000, jobs: 1 },
        ],
  );
  // BENCH_SCALE_OUT_INSTANCES=1,3 (default): each size on one instance and on three, back to back, the whole list
  // BENCH_SCALE_OUT_ROUNDS times (default 1), so that the ratio compares runs of the same minutes.
  const counts = (process.env.BENCH_SCALE_OUT_INSTANCES ?? '1,3').split(',').map(Number);
  const rounds = Number(process.env.BENCH_SCALE_OUT_ROUNDS ?? 1);
  // BENCH_SCALE_OUT_WARMUP=1000 (default; 0: none): a walk of that many subscribers on up to 10 of the size's jobs'
  // count before each measured one, in the same processes (runOne, step 0).
  // BENCH_SCALE_OUT_WARMUP=10000x100: that many subscribers on that many jobs (at most the size's).
  const [warmUpSubscribers, warmUpJobs] = (process.env.BENCH_SCALE_OUT_WARMUP ?? (quick ? '100' : '1000'))
    .split('x')
    .map(Number) as [number, number | undefined];
  // BENCH_SCALE_OUT_SETTLE_MS=10000: everyone watches that long before the first change (default 0: none).
  const settleMs = Number(process.env.BENCH_SCALE_OUT_SETTLE_MS ?? 0);
  for (const n of counts)
    if (!Number.isInteger(n) || n < 1 || n > INSTANCES.length) throw new Error(`BENCH_SCALE_OUT_INSTANCES: ${n}`);
  const results: Run[] = [];
  for (let round_ = 0; round_ < rounds; round_++)
    for (const r of runs)
      for (const n of counts) {
        log(`${r.subscribers} subscribers on ${r.jobs} job(s), ${n} instance(s)`);
        const warmUp = { subscribers: warmUpSubscribers, jobs: Math.min(warmUpJobs ?? 10, r.jobs) };
        const result = await runOne(r.subscribers, r.jobs, n, warmUp, settleMs, verbose, log);
        const t = result.total;
        const l = result.loadGenerator;
        log(
          `fan-out p50 ${round(t.fanOutLatencyMs.p50)} p99 ${round(t.fanOutLatencyMs.p99)} max ${round(t.fanOutLatencyMs.max)} ms ` +
            `(p99 by status ${Object.entries(t.fanOutLatencyByStatusMs)
              .map(([k, v]) => `${k} ${round(v.p99)}`)
              .join(
                ', ',
              )}; per instance p99 ${result.instances.map((i) => `${i.instance} ${round(i.fanOutLatencyMs.p99)}`).join(', ')}); ` +
            `load generator ${l.processes} procs, CPU per change max ${l.busiestChangeShare} median ${l.medianChangeShare}, ${l.saturatedChanges}/${l.changes} saturated; ` +
            `RSS +${t.memory.rssPerSubscriberKB} KB/sub; CPU ${t.cpu.usPerEvent} µs/event; reads/job/interval mean ${round(t.upstream.readsPerJobPerInterval.mean)} max ${round(t.upstream.readsPerJobPerInterval.max)}; ` +
            `poller reads ${result.instances.map((i) => `${i.instance} ${i.upstream.pollerReadsDuringWalk}`).join(', ')}`,
        );
        results.push(result);
      }
  // Three instances against one, per size and round (runs back to back).
  const ratios: Record<string, unknown>[] = [];
  for (let i = 0; i < results.length; i++) {
    const one = results[i]!;
    const many = results[i + 1];
    if (one.shape.instances !== 1 || !many || many.shape.instances === 1 || many.jobs !== one.jobs) continue;
    ratios.push({
      size: `${one.subscribers} × ${one.jobs}`,
      instances: many.shape.instances,
      p50: round(many.total.fanOutLatencyMs.p50 / one.total.fanOutLatencyMs.p50),
      p99: round(many.total.fanOutLatencyMs.p99 / one.total.fanOutLatencyMs.p99),
      cpuPerEvent: round(many.total.cpu.usPerEvent / one.total.cpu.usPerEvent),
    });
  }
  const rows: (string | number)[][] = [];
  for (const r of results) {
    const label = `${r.subscribers} × ${r.jobs}, ${r.shape.instances} inst.`;
    for (const i of r.instances) {
      rows.push([
        label,
        i.instance + (r.instances.indexOf(i) === SUBMIT_VIA ? ' (submits)' : ''),
        i.subscribers,
        i.sockets,
        `${mb(i.memory.before.rss)} → ${mb(i.memory.after.rss)}`,
        i.memory.rssPerSubscriberKB,
        mb(i.memory.peakRssDuringFanOut),
        `${i.cpu.ms} ms, ${round(i.cpu.shareOfWalk * 100, 0)} %, ${i.cpu.usPerEvent} µs/event`,
        fmtMs(i.fanOutLatencyMs),
        `${i.upstream.pollerReadsDuringWalk} (${i.upstream.jobsRead} jobs)`,
        '',
        '',
        i.upstream.budget429s,
      ]);
    }
    const t = r.total;
    rows.push([
      `**${label}**`,
      '**total**',
      t.subscribers,
      t.sockets,
      `${mb(t.memory.beforeRss)} → ${mb(t.memory.afterRss)}`,
      t.memory.rssPerSubscriberKB,
      `${mb(t.memory.peakRssSumDuringFanOut)} (sum)`,
      `${t.cpu.ms} ms, ${round(t.cpu.shareOfWalk * 100, 0)} %, ${t.cpu.usPerEvent} µs/event`,
      fmtMs(t.fanOutLatencyMs),
      `${t.upstream.readsWatched} (simulator)`,
      `${round(t.upstream.readsPerJobPerInterval.mean)}, ${round(t.upstream.readsPerJobPerInterval.max)}`,
      `${t.upstream.maxExtraReads}; ${t.upstream.jobsReadByMoreThanOneInstance}`,
      t.upstream.simulator429s + t.upstream.budget429s,
    ]);
  }
  const summary = table(
    [
      'subscribers × jobs',
      'instances',
      'fan-out p50 / p99 / max (ms)',
      'p99 WAITING / PROCESSING / DONE (ms)',
      'gateways CPU / event (µs)',
      'per step: window, gateways on CPU, waiting for it (ms)',
      'per step: load generator on CPU, waiting for it (ms)',
      'load generator: processes, core; CPU share per change max, median; saturated changes',
    ],
    results.map((r) => {
      const by = r.total.fanOutLatencyByStatusMs;
      const l = r.loadGenerator;
      return [
        `${r.subscribers} × ${r.jobs}`,
        r.shape.instances,
        fmtMs(r.total.fanOutLatencyMs),
        ['WAITING', 'PROCESSING', 'DONE'].map((k) => round(by[k]?.p99 ?? NaN, 0)).join(' / '),
        r.total.cpu.usPerEvent,
        r.steps
          .map(
            (x) =>
              `${x.status.slice(0, 4)} ${x.windowMs}, ${round(sum(x.gateways.runMs), 0)}, ${round(sum(x.gateways.waitMs), 0)}`,
          )
          .join('; '),
        r.steps
          .map(
            (x) =>
              `${x.status.slice(0, 4)} ${round(sum(x.loadGenerator.runMs), 0)}, ${round(sum(x.loadGenerator.waitMs), 0)}`,
          )
          .join('; '),
        `${l.processes}, core ${l.core}; ${round(l.busiestChangeShare * 100, 0)} %, ${round(l.medianChangeShare * 100, 0)} %; ${l.saturatedChanges} of ${l.changes}`,
      ];
    }),
  );
  const ratioTable = table(
    ['subscribers × jobs', 'p50 ratio (n instances / 1)', 'p99 ratio', 'CPU per event ratio'],
    ratios.map((x) => [String(x.size), x.p50 as number, x.p99 as number, x.cpuPerEvent as number]),
  );
  const markdown = [
    summary,
    '',
    ratioTable,
    '',
    `Gateways pinned to core 0, the simulator and the load generator's processes to core ${LOADGEN_CORE || '(unpinned)'}, Redis and PostgreSQL not pinned. ` +
      `Latency = receive time in the load generator (its own processes, Date.now()) − the event's updatedAt; "saturated" = a change whose frames arrived while a load-generator process used more than ${SATURATED * 100} % of a core.`,
    '',
    `Before each measured walk, a warm-up walk of ${warmUpSubscribers} subscribers on up to ${warmUpJobs ?? 10} jobs through the same gateway processes (not measured; BENCH_SCALE_OUT_WARMUP=0 for none), and ${settleMs / 1000} s with everyone subscribed before the first change (BENCH_SCALE_OUT_SETTLE_MS). ` +
      `Up to ${INSTANCES.length} gateway processes (all pinned to core 0) on one Redis (fresh \`REDIS_KEY_PREFIX\`) and one fresh PostgreSQL database, one simulator; ` +
      `every job submitted through instance ${INSTANCES[SUBMIT_VIA]} (its lease, and so its upstream reads, going to whichever instance claims it first), sockets round-robin over the instances; graphql-ws, ${PER_CONNECTION} subscriptions per WebSocket; POLL_INTERVAL_MS=${POLL_INTERVAL_MS}; ` +
      `every job walks ACCEPTED → WAITING → PROCESSING → DONE with every subscriber attached (a change every ${STEP_MS / 1000} s); every event checked as in the subscriptions scenario. ` +
      'RSS after a forced GC, before subscribing and once everyone has a first event; "peak" sampled every 100 ms during the walk (total: peak of the sum). ' +
      "CPU = the process's CPU time from the first change to the last completion, as a share of that wall time, and per change event it delivered. " +
      "Upstream reads: per instance, its poller's reads during the walk (and of how many jobs); total, the simulator's reads from everyone subscribed to DONE. " +
      "Reads / job / interval and max extra reads as in the subscriptions scenario; after the \";\" the jobs read by more than one instance (a lease that moved). 429s: per instance its budget's; total, the simulator's plus all budgets'.",
    '',
    table(
      [
        'subscribers × jobs',
        'instance',
        'subscribers',
        'sockets',
        'RSS before → after (MB)',
        'RSS / sub (KB)',
        'peak RSS (MB)',
        'CPU during fan-out',
        'fan-out p50 / p99 / max (ms)',
        'upstream reads',
        'reads / job / interval (mean, max)',
        'max extra reads; jobs read by >1 instance',
        '429s',
      ],
      rows,
    ),
  ].join('\n');
  return {
    result: {
      stepMs: STEP_MS,
      pollIntervalMs: POLL_INTERVAL_MS,
      ratios,
      submittedVia: INSTANCES[SUBMIT_VIA],
      runs: results,
    },
    markdown,
  };
};
