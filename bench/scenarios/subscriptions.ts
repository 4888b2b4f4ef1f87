import { procMemory } from '../lib/child.js';
import { type Scenario, table } from '../lib/scenario.js';
import { startGatewayChild, startSimulatorChild } from '../lib/stack.js';
import { mb, round, summarize } from '../lib/stats.js';
import { type LoadGenerator, startLoadGenerator } from '../lib/subscriber-pool.js';
import {
  checkWalks,
  FROZEN_STEP_MS,
  fanOutLatencies,
  latencyByStatus,
  PER_CONNECTION,
  readsPerJob,
  runSizes,
  STEP_MS,
  submitJobs,
  waitForIdle,
  walkJobs,
} from '../lib/subscribers.js';

// Live status at scale: N graphql-ws subscribers (100 per WebSocket) spread over 1 or 100 jobs.
//
// The simulator is frozen while the jobs render (stepMs = 1e9: every task stays ACCEPTED), so that rendering is over
// before anyone subscribes; then the benchmark moves every task one step (WAITING, PROCESSING, DONE) every STEP_MS
// by setting the simulator's stepMs to (age of the newest task) / k. Each job therefore goes through three changes
// with every subscriber attached, and the gateway finds each within one POLL_INTERVAL_MS.
// Fan-out latency = client receive time - the event's updatedAt, which the gateway sets when its upstream read saw
// the change (one machine clock). The moving parts are in bench/lib/subscribers.ts (shared with scale-out.ts).

const POLL_INTERVAL_MS = 1_000;

async function runOne(subscribers: number, jobCount: number, verbose: boolean, log: (m: string) => void) {
  const sim = await startSimulatorChild({ stepMs: FROZEN_STEP_MS }, verbose);
  const gateway = await startGatewayChild(sim.info.url, { POLL_INTERVAL_MS: String(POLL_INTERVAL_MS) }, verbose);
  let loadGen: LoadGenerator | undefined;
  try {
    // 1. Jobs, submitted through the gateway; their renders finish before anyone subscribes.
    const { jobs, tFirst, tLast } = await submitJobs([gateway.info.url], sim.info.sampleUrl, jobCount);
    const renderWaitMs = await waitForIdle(sim, 180_000);

    // 2. Subscribe everyone, 100 subscriptions per WebSocket.
    await sim.rpc('reset');
    const before = await gateway.rpc('memory');
    const connections = Math.ceil(subscribers / PER_CONNECTION);
    const url = `${gateway.info.url.replace(/^http/, 'ws')}/graphql`;
    // The subscribers are spread over load-generator processes (bench/lib/subscriber-pool.ts).
    const gen = await startLoadGenerator([url], subscribers, jobs, verbose);
    loadGen = gen;
    const subscribeMs = await gen.subscribe();
    const after = await gateway.rpc('memory');
    const afterProc = procMemory(gateway.pid);
    const tSubscribed = Date.now();
    const readsAtSubscribed = (await sim.rpc<{ readsByTask: Record<string, number> }>('stats')).readsByTask;
    log(
      `${subscribers} subscribed over ${connections} sockets in ${subscribeMs} ms; gateway RSS ${mb(before.rss)} -> ${mb(after.rss)} MB`,
    );

    // 3. Three changes per job, STEP_MS apart; sample the gateway's RSS meanwhile.
    let peakRss = after.rss as number;
    const sampler = setInterval(() => {
      const m = procMemory(gateway.pid);
      if (m && m.rss > peakRss) peakRss = m.rss;
    }, 100);
    let skewWarnings: string[];
    const cpuBefore = await gateway.rpc<{ user: number; system: number }>('cpu');
    await gen.mark();
    try {
      skewWarnings = await walkJobs(sim, tFirst, tLast, (ms) => gen.waitForCompletion(ms));
    } finally {
      clearInterval(sampler);
    }

    const cpuAfter = await gateway.rpc<{ user: number; system: number }>('cpu');
    const gatewayCpuMs = (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1000;

    // 4. Check every stream, then measure.
    const { subs, load } = await gen.collect();
    const failed = subs.find((x) => x.error);
    if (failed) throw new Error(`subscription failed: ${failed.error}`);
    const fullWalks = checkWalks(subs);
    /** lastByChange: per job and change, the last subscriber's latency. */
    const { latencies, lastByChange } = fanOutLatencies(subs);
    const stats = await sim.rpc<{ readsByTask: Record<string, number>; byStatus: Record<string, number> }>('stats');
    const perJob = readsPerJob(jobs, subs, readsAtSubscribed, stats.readsByTask, tSubscribed, POLL_INTERVAL_MS);
    const budget = await gateway.rpc<{ rateLimited: number }>('budget');
    const latency = summarize(latencies);
    const lastSubscriber = summarize([...lastByChange.values()]);
    const readsPerInterval = summarize(perJob.map((p) => p.perInterval));
    return {
      subscribers,
      jobs: jobCount,
      shape: { connections, subscriptionsPerConnection: PER_CONNECTION, subscribersPerJob: subscribers / jobCount },
      renderWaitMs,
      subscribeMs,
      memory: {
        before,
        after,
        afterProc,
        peakRssDuringFanOut: peakRss,
        rssPerSubscriberKB: round((after.rss - before.rss) / subscribers / 1024, 2),
        heapPerSubscriberKB: round((after.heapUsed - before.heapUsed) / subscribers / 1024, 2),
      },
      events: {
        total: subs.reduce((s, x) => s + x.events.length, 0),
        changes: latencies.length,
        fullWalks,
        completed: subs.filter((s) => s.completed).length,
      },
      fanOutLatencyMs: latency,
      fanOutLatencyByStatusMs: latencyByStatus(subs),
      loadGenerator: load,
      /** The gateway's CPU from the first change to the last completion (polls included), per change event delivered. */
      gatewayCpu: { ms: round(gatewayCpuMs, 0), usPerEvent: round((gatewayCpuMs * 1000) / latencies.length, 1) },
      lastSubscriberLatencyMs: lastSubscriber,
      upstream: {
        pollIntervalMs: POLL_INTERVAL_MS,
        readsWhileSubscribing: summarize(perJob.map((p) => p.readsWhileSubscribing)),
        readsWatched: perJob.reduce((s, p) => s + p.reads, 0),
        watchedIntervals: round(
          perJob.reduce((s, p) => s + p.intervals, 0),
          1,
        ),
        readsPerJobPerInterval: readsPerInterval,
        maxReadsOneJob: Math.max(...perJob.map((p) => p.reads)),
        /** Most reads any job got beyond one per interval (<= 0: never more than one per interval). */
        maxExtraReads: Math.max(...perJob.map((p) => p.extra)),
        simulatorResponses: stats.byStatus,
        budget429s: budget.rateLimited,
      },
      skewWarnings,
    };
  } finally {
    await loadGen?.stop();
    await gateway.stop();
    await sim.stop();
  }
}

export const subscriptions: Scenario = async ({ quick, verbose, log }) => {
  // BENCH_SUBS=10000x100,1000x1 runs just those (subscribers x jobs).
  const runs = runSizes(
    'BENCH_SUBS',
    quick
      ? [
          { subscribers: 1_000, jobs: 1 },
          { subscribers: 1_000, jobs: 100 },
        ]
      : [
          { subscribers: 1_000, jobs: 1 },
          { subscribers: 1_000, jobs: 100 },
          { subscribers: 10_000, jobs: 1 },
          { subscribers: 10_000, jobs: 100 },
        ],
  );
  const results = [];
  for (const r of runs) {
    log(`${r.subscribers} subscribers on ${r.jobs} job(s)`);
    const result = await runOne(r.subscribers, r.jobs, verbose, log);
    log(
      `fan-out p50 ${round(result.fanOutLatencyMs.p50)} p99 ${round(result.fanOutLatencyMs.p99)} max ${round(result.fanOutLatencyMs.max)} ms; ` +
        `load generator CPU per change max ${result.loadGenerator.busiestChangeShare}, ${result.loadGenerator.saturatedChanges}/${result.loadGenerator.changes} saturated; ` +
        `RSS +${result.memory.rssPerSubscriberKB} KB/sub; gateway CPU ${result.gatewayCpu.usPerEvent} µs/event; reads/job/interval mean ${round(result.upstream.readsPerJobPerInterval.mean)} max ${round(result.upstream.readsPerJobPerInterval.max)}`,
    );
    results.push(result);
  }
  const markdown = [
    `graphql-ws, ${PER_CONNECTION} subscriptions per WebSocket; POLL_INTERVAL_MS=${POLL_INTERVAL_MS}; every job walks ACCEPTED → WAITING → PROCESSING → DONE with ` +
      `every subscriber attached (a change every ${STEP_MS / 1000} s); every event checked (data, no errors, the right job, statuses in order, ends DONE, stream completes). ` +
      'Reads per job per interval = (upstream reads − 1) / (watched time / POLL_INTERVAL_MS), from everyone subscribed to the read that saw DONE; "max extra reads" = the most any job got beyond one per interval. ' +
      'Latency = client receive time − the event\'s `updatedAt` (when the gateway saw the change); "last subscriber" = per job and change, the slowest subscriber.',
    '',
    table(
      [
        'subscribers',
        'jobs',
        'shape',
        'RSS before → after (MB)',
        'RSS / sub (KB)',
        'heap / sub (KB)',
        'peak RSS (MB)',
        'fan-out p50 / p99 / max (ms)',
        'last subscriber p50 / p99 (ms)',
        'reads / job / interval (mean, max)',
        'max extra reads',
        '429s',
        'load generator: CPU share per change max; saturated changes',
      ],
      results.map((r) => [
        r.subscribers,
        r.jobs,
        `${r.shape.connections} sockets × ${r.shape.subscriptionsPerConnection}`,
        `${mb(r.memory.before.rss)} → ${mb(r.memory.after.rss)}`,
        r.memory.rssPerSubscriberKB,
        r.memory.heapPerSubscriberKB,
        mb(r.memory.peakRssDuringFanOut),
        `${round(r.fanOutLatencyMs.p50, 1)} / ${round(r.fanOutLatencyMs.p99, 1)} / ${round(r.fanOutLatencyMs.max, 1)}`,
        `${round(r.lastSubscriberLatencyMs.p50, 1)} / ${round(r.lastSubscriberLatencyMs.p99, 1)}`,
        `${round(r.upstream.readsPerJobPerInterval.mean)}, ${round(r.upstream.readsPerJobPerInterval.max)}`,
        r.upstream.maxExtraReads,
        (r.upstream.simulatorResponses['429'] ?? 0) + r.upstream.budget429s,
        `${round(r.loadGenerator.busiestChangeShare * 100, 0)} %; ${r.loadGenerator.saturatedChanges} of ${r.loadGenerator.changes} (${r.loadGenerator.processes} processes)`,
      ]),
    ),
  ].join('\n');
  return { result: { stepMs: STEP_MS, pollIntervalMs: POLL_INTERVAL_MS, runs: results }, markdown };
};
