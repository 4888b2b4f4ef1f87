import type { Child } from './child.js';
import { gql } from './http.js';
import { READ, SUBMIT, smallEdit } from './queries.js';
import { sleep, summarize } from './stats.js';

// The subscription benchmark's moving parts, shared by bench/scenarios/subscriptions.ts (one gateway) and
// bench/scenarios/scale-out.ts (three gateways on one Redis and one PostgreSQL database).
//
// The simulator is frozen while the jobs render (stepMs = 1e9: every task stays ACCEPTED), so that rendering is over
// before anyone subscribes; then every task is moved one step (WAITING, PROCESSING, DONE) every STEP_MS by setting
// the simulator's stepMs to (age of the newest task) / k. Each job therefore goes through three changes with every
// subscriber attached, and the gateway finds each within one POLL_INTERVAL_MS.

export const FROZEN_STEP_MS = 1_000_000_000;
export const STEP_MS = 3_000;
export const PER_CONNECTION = 100;
export const WALK = ['ACCEPTED', 'WAITING', 'PROCESSING', 'DONE'];

export interface RunSize {
  subscribers: number;
  jobs: number;
}

/** The sizes to run: `defaults`, unless the environment variable `envName` lists others ("10000x100,1000x1"). */
export function runSizes(envName: string, defaults: RunSize[]): RunSize[] {
  const listed = process.env[envName];
  if (!listed) return defaults;
  return listed.split(',').map((size) => {
    const [subscribers, jobs] = size.split('x').map(Number);
    if (!Number.isInteger(subscribers) || !Number.isInteger(jobs))
      throw new Error(`${envName}: "${size}" is not <subscribers>x<jobs>`);
    return { subscribers: subscribers!, jobs: jobs! };
  });
}

export interface Sub {
  job: number;
  /** Index of the WebSocket (in the order the clients were passed to subscribeAll) carrying this subscription. */
  socket: number;
  events: { status: string; updatedAt: number; receivedAt: number }[];
  completed: boolean;
  error?: string;
}

export interface SubmittedJob {
  id: string;
  /** Null until the gateway's submit queue has sent the job (its submit answered QUEUED). */
  upstreamId: number | null;
}

export async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
  everyMs = 100,
): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Waits until the simulator process has been nearly idle for a second: its renders are done. */
export async function waitForIdle(sim: Child, timeoutMs: number): Promise<number> {
  let last = await sim.rpc<{ user: number; system: number; uptimeMs: number }>('cpu');
  return waitUntil(
    'the simulator to finish rendering',
    timeoutMs,
    async () => {
      await sleep(900);
      const now = await sim.rpc<{ user: number; system: number; uptimeMs: number }>('cpu');
      const busy = (now.user + now.system - last.user - last.system) / 1000 / (now.uptimeMs - last.uptimeMs);
      last = now;
      return busy < 0.05;
    },
    0,
  );
}

/**
 * Submits `jobCount` small edits, 4 at a time, job i through `gatewayUrls[i % gatewayUrls.length]`.
 * tFirst / tLast: just before the first submit and just after the last job was sent upstream.
 */
export async function submitJobs(
  gatewayUrls: string[],
  sampleUrl: string,
  jobCount: number,
): Promise<{ jobs: SubmittedJob[]; tFirst: number; tLast: number }> {
  const tFirst = Date.now();
  const jobs: SubmittedJob[] = new Array(jobCount);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(4, jobCount) }, async () => {
      while (next < jobCount) {
        const i = next++;
        jobs[i] = (
          await gql(gatewayUrls[i % gatewayUrls.length]!, SUBMIT, { input: smallEdit(sampleUrl, i) })
        ).submitAiEdit.job;
      }
    }),
  );
  // A submit the account's budget cannot send at once comes back QUEUED, without an upstream id: wait until the
  // gateway's queue has sent every job, so that reads can be counted per task and the newest task is this old.
  await waitUntil(
    'every job sent upstream',
    180_000,
    async () => {
      const pending = jobs.filter((job) => job.upstreamId == null);
      for (const job of pending) {
        const read = await gql(gatewayUrls[0]!, READ, { id: job.id });
        job.upstreamId = read.aiEditJob.upstreamId;
      }
      return jobs.every((job) => job.upstreamId != null);
    },
    250,
  );
  return { jobs, tFirst, tLast: Date.now() };
}

/**
 * Moves every task one status every STEP_MS (three times), then waits (`waitForCompletion`) for every stream to
 * complete. Returns warnings when the oldest job may have skipped a status (submits spread over too long a time).
 */
export async function walkJobs(
  sim: Child,
  tFirst: number,
  tLast: number,
  waitForCompletion: (timeoutMs: number) => Promise<void>,
): Promise<string[]> {
  const skewWarnings: string[] = [];
  for (let k = 1; k <= 3; k++) {
    await sleep(STEP_MS);
    const now = Date.now();
    const stepMs = Math.floor((now - tLast) / k);
    if ((now - tFirst) / stepMs >= k + 1) skewWarnings.push(`step ${k}: the oldest job may skip a status`);
    await sim.rpc('setStepMs', stepMs);
  }
  await waitForCompletion(60_000);
  return skewWarnings;
}

/** Checks every stream (statuses in WALK order, ending DONE); throws on the first bad one. Returns the full walks. */
export function checkWalks(subs: Sub[]): number {
  let fullWalks = 0;
  for (const [i, sub] of subs.entries()) {
    const statuses = sub.events.map((e) => e.status);
    const ranks = statuses.map((s) => WALK.indexOf(s));
    const ordered = ranks.every((r, j) => r >= 0 && (j === 0 || r > ranks[j - 1]!));
    if (!ordered || statuses.at(-1) !== 'DONE') throw new Error(`subscriber ${i}: bad walk ${statuses.join(' -> ')}`);
    if (statuses.length === WALK.length) fullWalks++;
  }
  return fullWalks;
}

/** Fan-out latency of every change event (not the first event), and per job and change the slowest subscriber's. */
export function fanOutLatencies(subs: Sub[]): { latencies: number[]; lastByChange: Map<string, number> } {
  const latencies: number[] = [];
  const lastByChange = new Map<string, number>();
  for (const sub of subs) {
    for (const e of sub.events.slice(1)) {
      const ms = e.receivedAt - e.updatedAt;
      latencies.push(ms);
      const key = `${sub.job}:${e.status}`;
      lastByChange.set(key, Math.max(lastByChange.get(key) ?? -Infinity, ms));
    }
  }
  return { latencies, lastByChange };
}

/** Fan-out latency percentiles per status changed into (WAITING, PROCESSING, DONE). */
export function latencyByStatus(subs: Sub[]): Record<string, ReturnType<typeof summarize>> {
  const by = new Map<string, number[]>();
  for (const sub of subs)
    for (const e of sub.events.slice(1)) {
      const list = by.get(e.status) ?? [];
      list.push(e.receivedAt - e.updatedAt);
      by.set(e.status, list);
    }
  return Object.fromEntries(WALK.filter((s) => by.has(s)).map((s) => [s, summarize(by.get(s)!)]));
}

/**
 * Upstream reads per job, from the moment everyone is subscribed (the job is watched) to the read that saw DONE.
 * Reads at both ends of the window: one per interval is intervals + 1 reads.
 */
export function readsPerJob(
  jobs: SubmittedJob[],
  subs: Sub[],
  readsAtSubscribed: Record<string, number>,
  readsAtEnd: Record<string, number>,
  tSubscribed: number,
  pollIntervalMs: number,
) {
  const doneAt = new Map<number, number>();
  for (const sub of subs) doneAt.set(sub.job, sub.events.at(-1)!.updatedAt);
  return jobs.map((job, j) => {
    const during = readsAtSubscribed[String(job.upstreamId)] ?? 0;
    const reads = (readsAtEnd[String(job.upstreamId)] ?? 0) - during;
    const intervals = (doneAt.get(j)! - tSubscribed) / pollIntervalMs;
    return {
      readsWhileSubscribing: during,
      reads,
      intervals,
      perInterval: (reads - 1) / intervals,
      extra: reads - (Math.floor(intervals) + 1),
    };
  });
}
