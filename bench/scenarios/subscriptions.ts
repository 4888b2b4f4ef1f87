import type { Client } from 'graphql-ws';
import { connectAll, describeError } from '../lib/ws.js';
import { procMemory, type Child } from '../lib/child.js';
import { gql } from '../lib/http.js';
import { SUBMIT, UPDATED, smallEdit } from '../lib/queries.js';
import { startGatewayChild, startSimulatorChild } from '../lib/stack.js';
import { mb, round, sleep, summarize } from '../lib/stats.js';
import { table, type Scenario } from '../lib/scenario.js';

// Live status at scale: N graphql-ws subscribers (100 per WebSocket) spread over 1 or 100 jobs.
//
// The simulator is frozen while the jobs render (stepMs = 1e9: every task stays ACCEPTED), so that rendering is over
// before anyone subscribes; then the benchmark moves every task one step (WAITING, PROCESSING, DONE) every STEP_MS
// by setting the simulator's stepMs to (age of the newest task) / k. Each job therefore goes through three changes
// with every subscriber attached, and the gateway finds each within one POLL_INTERVAL_MS.
// Fan-out latency = client receive time - the event's updatedAt, which the gateway sets when its upstream read saw
// the change (one machine clock).

const FROZEN_STEP_MS = 1_000_000_000;
const STEP_MS = 3_000;
const PER_CONNECTION = 100;
const POLL_INTERVAL_MS = 1_000;
const WALK = ['ACCEPTED', 'WAITING', 'PROCESSING', 'DONE'];

interface Sub {
  job: number;
  events: { status: string; updatedAt: number; receivedAt: number }[];
  completed: boolean;
  error?: string;
}

async function waitUntil(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>, everyMs = 100): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Waits until the simulator process has been nearly idle for a second: its renders are done. */
async function waitForIdle(sim: Child, timeoutMs: number): Promise<number> {
  let last = await sim.rpc<{ user: number; system: number; uptimeMs: number }>('cpu');
  return waitUntil('the simulator to finish rendering', timeoutMs, async () => {
    await sleep(900);
    const now = await sim.rpc<{ user: number; system: number; uptimeMs: number }>('cpu');
    const busy = (now.user + now.system - last.user - last.system) / 1000 / (now.uptimeMs - last.uptimeMs);
    last = now;
    return busy < 0.05;
  }, 0);
}

async function runOne(subscribers: number, jobCount: number, verbose: boolean, log: (m: string) => void) {
  const sim = await startSimulatorChild({ stepMs: FROZEN_STEP_MS }, verbose);
  const gateway = await startGatewayChild(sim.info.url, { POLL_INTERVAL_MS: String(POLL_INTERVAL_MS) }, verbose);
  const clients: Client[] = [];
  try {
    // 1. Jobs, submitted through the gateway; their renders finish before anyone subscribes.
    const tFirst = Date.now();
    const jobs: { id: string; upstreamId: number }[] = new Array(jobCount);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(4, jobCount) }, async () => {
        while (next < jobCount) {
          const i = next++;
          jobs[i] = (await gql(gateway.info.url, SUBMIT, { input: smallEdit(sim.info.sampleUrl, i) })).submitAiEdit.job;
        }
      }),
    );
    const tLast = Date.now();
    const renderWaitMs = await waitForIdle(sim, 180_000);

    // 2. Subscribe everyone, 100 subscriptions per WebSocket.
    await sim.rpc('reset');
        const before = await gateway.rpc('memory');
    const connections = Math.ceil(subscribers / PER_CONNECTION);
    const url = `${gateway.info.url.replace(/^http/, 'ws')}/graphql`;
    // Every socket is acknowledged before anyone subscribes (a herd of connection_init behind thousands of subscribes
    // can miss the gateway's 3 s init timeout, 4408).
    clients.push(...(await connectAll(url, connections)));
    const subs: Sub[] = [];
    for (let s = 0; s < subscribers; s++) {
      const sub: Sub = { job: s % jobCount, events: [], completed: false };
      subs.push(sub);
      clients[Math.floor(s / PER_CONNECTION)]!.subscribe(
        { query: UPDATED, variables: { id: jobs[sub.job]!.id } },
        {
          next: (value) => {
            const receivedAt = Date.now();
            const job = (value.data as { aiEditJobUpdated?: { status: string; updatedAt: string; id: string } } | null | undefined)?.aiEditJobUpdated;
            if (value.errors?.length || !job || job.id !== jobs[sub.job]!.id) {
              sub.error ??= `bad event: ${JSON.stringify(value).slice(0, 300)}`;
              return;
            }
            sub.events.push({ status: job.status, updatedAt: Date.parse(job.updatedAt), receivedAt });
          },
          error: (error) => {
            sub.error ??= `error: ${describeError(error)}`;
          },
          complete: () => {
            sub.completed = true;
          },
        },
      );
    }
    const subscribeMs = await waitUntil('every first event', 120_000, () => {
      const failed = subs.find((s) => s.error);
      if (failed) throw new Error(`subscription failed: ${failed.error}`);
      return subs.every((s) => s.events.length > 0);
    });
    const after = await gateway.rpc('memory');
    const afterProc = procMemory(gateway.pid);
    const tSubscribed = Date.now();
    const readsAtSubscribed = (await sim.rpc<{ readsByTask: Record<string, number> }>('stats')).readsByTask;
    log(`${subscribers} subscribed over ${connections} sockets in ${subscribeMs} ms; gateway RSS ${mb(before.rss)} -> ${mb(after.rss)} MB`);

    // 3. Three changes per job, STEP_MS apart; sample the gateway's RSS meanwhile.
    let peakRss = after.rss as number;
    const sampler = setInterval(() => {
      const m = procMemory(gateway.pid);
      if (m && m.rss > peakRss) peakRss = m.rss;
    }, 100);
    const skewWarnings: string[] = [];
    const cpuBefore = await gateway.rpc<{ user: number; system: number }>('cpu');
    try {
      for (let k = 1; k <= 3; k++) {
        await sleep(STEP_MS);
        const now = Date.now();
        const stepMs = Math.floor((now - tLast) / k);
        if ((now - tFirst) / stepMs >= k + 1) skewWarnings.push(`step ${k}: the oldest job may skip a status`);
        await sim.rpc('setStepMs', stepMs);
      }
      await waitUntil('every subscription to complete', 60_000, () => {
        const failed = subs.find((s) => s.error);
        if (failed) throw new Error(`subscription failed: ${failed.error}`);
        return subs.every((s) => s.completed);
      });
    } finally {
      clearInterval(sampler);
    }

    const cpuAfter = await gateway.rpc<{ user: number; system: number }>('cpu');
    const gatewayCpuMs = (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1000;

    // 4. Check every stream, then measure.
    let fullWalks = 0;
    for (const [i, sub] of subs.entries()) {
      const statuses = sub.events.map((e) => e.status);
      const ranks = statuses.map((s) => WALK.indexOf(s));
      const ordered = ranks.every((r, j) => r >= 0 && (j === 0 || r > ranks[j - 1]!));
      if (!ordered || statuses.at(-1) !== 'DONE') throw new Error(`subscriber ${i}: bad walk ${statuses.join(' -> ')}`);
      if (statuses.length === WALK.length) fullWalks++;
    }
    const latencies: number[] = [];
    /** Per job and change: the last subscriber's latency. */
    const lastByChange = new Map<string, number>();
    for (const sub of subs) {
      for (const e of sub.events.slice(1)) {
        const ms = e.receivedAt - e.updatedAt;
        latencies.push(ms);
        const key = `${sub.job}:${e.status}`;
        lastByChange.set(key, Math.max(lastByChange.get(key) ?? -Infinity, ms));
      }
    }
    const stats = await sim.rpc<{ readsByTask: Record<string, number>; byStatus: Record<string, number> }>('stats');
    const doneAt = new Map<number, number>();
    for (const sub of subs) doneAt.set(sub.job, sub.events.at(-1)!.updatedAt);
    const perJob = jobs.map((job, j) => {
      // From the moment everyone is subscribed (the job is watched) to the read that saw DONE.
      const during = readsAtSubscribed[String(job.upstreamId)] ?? 0;
      const reads = (stats.readsByTask[String(job.upstreamId)] ?? 0) - during;
      const intervals = (doneAt.get(j)! - tSubscribed) / POLL_INTERVAL_MS;
      // Reads at both ends of the window: one per interval is intervals + 1 reads.
      return { readsWhileSubscribing: during, reads, intervals, perInterval: (reads - 1) / intervals, extra: reads - (Math.floor(intervals) + 1) };
    });
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
      events: { total: subs.reduce((s, x) => s + x.events.length, 0), changes: latencies.length, fullWalks, completed: subs.filter((s) => s.completed).length },
      fanOutLatencyMs: latency,
      /** The gateway's CPU from the first change to the last completion (polls included), per change event delivered. */
      gatewayCpu: { ms: round(gatewayCpuMs, 0), usPerEvent: round((gatewayCpuMs * 1000) / latencies.length, 1) },
      lastSubscriberLatencyMs: lastSubscriber,
      upstream: {
        pollIntervalMs: POLL_INTERVAL_MS,
        readsWhileSubscribing: summarize(perJob.map((p) => p.readsWhileSubscribing)),
        readsWatched: perJob.reduce((s, p) => s + p.reads, 0),
        watchedIntervals: round(perJob.reduce((s, p) => s + p.intervals, 0), 1),
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
    await Promise.all(clients.map((c) => c.dispose()));
    await gateway.stop();
    await sim.stop();
  }
}

export const subscriptions: Scenario = async ({ quick, verbose, log }) => {
  const runs = quick
    ? [
        { subscribers: 1_000, jobs: 1 },
        { subscribers: 1_000, jobs: 100 },
      ]
    : [
        { subscribers: 1_000, jobs: 1 },
        { subscribers: 1_000, jobs: 100 },
        { subscribers: 10_000, jobs: 1 },
        { subscribers: 10_000, jobs: 100 },
      ];
  // BENCH_SUBS=10000x100,1000x1 runs just those (subscribers x jobs).
  if (process.env.BENCH_SUBS) {
    runs.splice(0, runs.length, ...process.env.BENCH_SUBS.split(',').map((p) => {
      const [subscribers, jobs] = p.split('x').map(Number);
      return { subscribers: subscribers!, jobs: jobs! };
    }));
  }
  const results = [];
  for (const r of runs) {
    log(`${r.subscribers} subscribers on ${r.jobs} job(s)`);
    const result = await runOne(r.subscribers, r.jobs, verbose, log);
    log(
      `fan-out p50 ${round(result.fanOutLatencyMs.p50)} p99 ${round(result.fanOutLatencyMs.p99)} max ${round(result.fanOutLatencyMs.max)} ms; ` +
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
      ['subscribers', 'jobs', 'shape', 'RSS before → after (MB)', 'RSS / sub (KB)', 'heap / sub (KB)', 'peak RSS (MB)', 'fan-out p50 / p99 / max (ms)', 'last subscriber p50 / p99 (ms)', 'reads / job / interval (mean, max)', 'max extra reads', '429s'],
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
      ]),
    ),
  ].join('\n');
  return { result: { stepMs: STEP_MS, pollIntervalMs: POLL_INTERVAL_MS, runs: results }, markdown };
};
