import { type Child, spawnChild } from './child.js';
import { round } from './stats.js';
import { PER_CONNECTION, type Sub, type SubmittedJob, waitUntil } from './subscribers.js';

// The subscription benchmarks' load generator: graphql-ws subscribers spread over several processes
// (bench/lib/subscriber-child.ts), so that no one process has to take all 10,000 frames of a change. Subscriber s
// watches job s % jobs on socket floor(s / PER_CONNECTION); socket k goes to gateway k % gateways and to process
// k % processes. Every process stamps frames with Date.now(), the one clock the gateways stamp `updatedAt` with.
//
// BENCH_LOADGEN_PROCS (default 4) sets how many processes; BENCH_LOADGEN_CORE (default 1, the simulator's core, not
// the gateways') the core they are pinned to ("" leaves them unpinned).

export const LOADGEN_PROCS = Number(process.env.BENCH_LOADGEN_PROCS ?? 4);
export const LOADGEN_CORE = process.env.BENCH_LOADGEN_CORE ?? '1';
/** A change's frames arriving while the process was busier than this (CPU share) flags it as saturated. */
export const SATURATED = 0.9;

export interface LoadGenerator {
  processes: number;
  /** The processes' pids (for bench/lib/schedstat.ts). */
  pids: number[];
  core: string;
  /** Subscribers per gateway (index into the gateway list). */
  subscribersOf(gateway: number): number;
  socketsOf(gateway: number): number;
  /** Which gateway a subscriber's socket is on. */
  gatewayOf(sub: Sub): number;
  /** Subscribes everyone; resolves once each has a first event (ms taken). */
  subscribe(): Promise<number>;
  /** Starts the measured window (the load generator's CPU is reported from here). */
  mark(): Promise<void>;
  /** Resolves once every stream completed; throws on the first failure. */
  waitForCompletion(timeoutMs: number): Promise<void>;
  /** Every subscriber's events (parsed and checked), and the load generator's load while the changes arrived. */
  collect(): Promise<{ subs: Sub[]; load: LoadReport }>;
  stop(): Promise<void>;
}

export interface LoadReport {
  processes: number;
  core: string;
  /** Per process: its CPU over the measured window (share of one core). */
  cpuShareOfWindow: number[];
  /**
   * Per change (job and status) and process: the process's CPU share from the change's first frame to its last
   * there. Max and median over all; `saturatedChanges` counts those above SATURATED: for them the load generator,
   * not the gateway, may be what delays the last frames.
   */
  busiestChangeShare: number;
  medianChangeShare: number;
  saturatedChanges: number;
  changes: number;
}

type Timeline = [number, number, number][];

/** CPU share of one core between t0 and t1, from a timeline of cumulative CPU µs (linear between samples). */
function cpuShare(timeline: Timeline, t0: number, t1: number): number {
  const at = (t: number) => {
    let prev = timeline[0]!;
    for (const point of timeline) {
      if (point[0] >= t) {
        const span = point[0] - prev[0];
        return span <= 0 ? point[1] : prev[1] + ((point[1] - prev[1]) * (t - prev[0])) / span;
      }
      prev = point;
    }
    return prev[1];
  };
  // Below 10 ms the samples (every 10 ms) cannot tell; widen to one sample either side.
  const from = Math.min(t0, t1 - 10);
  return (at(t1) - at(from)) / 1000 / (t1 - from);
}

export async function startLoadGenerator(
  gatewayWsUrls: string[],
  subscribers: number,
  jobs: SubmittedJob[],
  verbose = false,
): Promise<LoadGenerator> {
  const connections = Math.ceil(subscribers / PER_CONNECTION);
  const processes = Math.max(1, Math.min(LOADGEN_PROCS, connections));
  const children: Child[] = [];
  const core = LOADGEN_CORE === '' ? undefined : Number(LOADGEN_CORE);
  for (let p = 0; p < processes; p++)
    children.push(
      await spawnChild(`loadgen-${p}`, 'subscribers', { ...(core === undefined ? {} : { core }), verbose }),
    );
  const gatewayOfSocket = (k: number) => k % gatewayWsUrls.length;
  const socketOf = (s: number) => Math.floor(s / PER_CONNECTION);
  const each = <T>(fn: (c: Child, p: number) => Promise<T>) => Promise.all(children.map(fn));
  const count = (pred: (s: number) => boolean) => {
    let n = 0;
    for (let s = 0; s < subscribers; s++) if (pred(s)) n++;
    return n;
  };

  // Every socket acknowledged before anyone subscribes (a herd of connection_init behind thousands of subscribes
  // can miss the gateway's 3 s init timeout, 4408).
  await each((c, p) => {
    const list = [];
    for (let k = p; k < connections; k += processes) list.push({ index: k, url: gatewayWsUrls[gatewayOfSocket(k)]! });
    return c.rpc('connect', list);
  });

  const progress = () => each((c) => c.rpc<{ withEvent: number; completed: number; error?: string }>('progress'));
  const check = (all: { error?: string }[]) => {
    const failed = all.find((x) => x.error);
    if (failed) throw new Error(`subscription failed: ${failed.error}`);
  };

  return {
    processes,
    pids: children.map((c) => c.pid),
    core: LOADGEN_CORE === '' ? 'unpinned' : LOADGEN_CORE,
    subscribersOf: (g) => count((s) => gatewayOfSocket(socketOf(s)) === g),
    socketsOf: (g) => Array.from({ length: connections }, (_, k) => k).filter((k) => gatewayOfSocket(k) === g).length,
    gatewayOf: (sub) => gatewayOfSocket(sub.socket),
    async subscribe() {
      const t0 = Date.now();
      await each((c, p) => {
        const list = [];
        for (let s = 0; s < subscribers; s++) {
          const socket = socketOf(s);
          if (socket % processes === p)
            list.push({ index: s, job: s % jobs.length, jobId: jobs[s % jobs.length]!.id, socket });
        }
        return c.rpc('subscribe', list);
      });
      await waitUntil('every first event', 120_000, async () => {
        const all = await progress();
        check(all);
        return all.reduce((n, x) => n + x.withEvent, 0) === subscribers;
      });
      return Date.now() - t0;
    },
    async mark() {
      await each((c) => c.rpc('mark'));
    },
    async waitForCompletion(timeoutMs) {
      await waitUntil('every subscription to complete', timeoutMs, async () => {
        const all = await progress();
        check(all);
        return all.reduce((n, x) => n + x.completed, 0) === subscribers;
      });
    },
    async collect() {
      const replies = await each((c) =>
        c.rpc<{
          subs: { index: number; events: [string, number, number][]; completed: boolean; error?: string }[];
          timeline: Timeline;
        }>('results'),
      );
      const subs: Sub[] = new Array(subscribers);
      const windows = replies.map(() => new Map<string, [number, number]>());
      replies.forEach((reply, p) => {
        for (const r of reply.subs) {
          const sub: Sub = {
            job: r.index % jobs.length,
            socket: socketOf(r.index),
            events: r.events.map(([status, updatedAt, receivedAt]) => ({ status, updatedAt, receivedAt })),
            completed: r.completed,
            ...(r.error ? { error: r.error } : {}),
          };
          subs[r.index] = sub;
          // The window of each change (not the first event) in this process: its first to its last frame.
          for (const e of sub.events.slice(1)) {
            const key = `${sub.job}:${e.status}`;
            const w = windows[p]!.get(key);
            if (!w) windows[p]!.set(key, [e.receivedAt, e.receivedAt]);
            else {
              w[0] = Math.min(w[0], e.receivedAt);
              w[1] = Math.max(w[1], e.receivedAt);
            }
          }
        }
      });
      const shares: number[] = [];
      replies.forEach((reply, p) => {
        for (const [t0, t1] of windows[p]!.values()) shares.push(cpuShare(reply.timeline, t0, t1));
      });
      shares.sort((a, b) => a - b);
      const cpuShareOfWindow = replies.map((r) => {
        const first = r.timeline[0]!;
        const last = r.timeline.at(-1)!;
        return round((last[1] - first[1]) / 1000 / Math.max(1, last[0] - first[0]), 3);
      });
      return {
        subs,
        load: {
          processes,
          core: LOADGEN_CORE === '' ? 'unpinned' : LOADGEN_CORE,
          cpuShareOfWindow,
          busiestChangeShare: round(shares.at(-1) ?? 0, 3),
          medianChangeShare: round(shares[Math.floor(shares.length / 2)] ?? 0, 3),
          saturatedChanges: shares.filter((x) => x > SATURATED).length,
          changes: shares.length,
        },
      };
    },
    async stop() {
      await each((c) => c.rpc('close').catch(() => undefined));
      await Promise.all(children.map((c) => c.stop()));
    },
  };
}
