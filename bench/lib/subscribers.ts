import type { Client } from 'graphql-ws';
import type { Child } from './child.js';
import { gql } from './http.js';
import { SUBMIT, smallEdit, UPDATED } from './queries.js';
import { sleep } from './stats.js';
import { describeError } from './ws.js';

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
  upstreamId: number;
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
 * tFirst / tLast: just before the first submit and just after the last answer.
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
  return { jobs, tFirst, tLast: Date.now() };
}

/** Subscriber s watches job s % jobs.length on socket floor(s / PER_CONNECTION); every event is recorded or flagged. */
export function subscribeAll(clients: Client[], subscribers: number, jobs: SubmittedJob[]): Sub[] {
  const subs: Sub[] = [];
  for (let s = 0; s < subscribers; s++) {
    const sub: Sub = { job: s % jobs.length, socket: Math.floor(s / PER_CONNECTION), events: [], completed: false };
    subs.push(sub);
    clients[sub.socket]!.subscribe(
      { query: UPDATED, variables: { id: jobs[sub.job]!.id } },
      {
        next: (value) => {
          const receivedAt = Date.now();
          const job = (
            value.data as { aiEditJobUpdated?: { status: string; updatedAt: string; id: string } } | null | undefined
          )?.aiEditJobUpdated;
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
  return subs;
}

const throwOnError = (subs: Sub[]) => {
  const failed = subs.find((s) => s.error);
  if (failed) throw new Error(`subscription failed: ${failed.error}`);
};

/** Milliseconds until every subscriber has its first event; throws on the first failed subscription. */
export function waitForFirstEvents(subs: Sub[], timeoutMs = 120_000): Promise<number> {
  return waitUntil('every first event', timeoutMs, () => {
    throwOnError(subs);
    return subs.every((s) => s.events.length > 0);
  });
}

/**
 * Moves every task one status every STEP_MS (three times), then waits for every stream to complete.
 * Returns warnings when the oldest job may have skipped a status (submits spread over too long a time).
 */
export async function walkJobs(sim: Child, subs: Sub[], tFirst: number, tLast: number): Promise<string[]> {
  const skewWarnings: string[] = [];
  for (let k = 1; k <= 3; k++) {
    await sleep(STEP_MS);
    const now = Date.now();
    const stepMs = Math.floor((now - tLast) / k);
    if ((now - tFirst) / stepMs >= k + 1) skewWarnings.push(`step ${k}: the oldest job may skip a status`);
    await sim.rpc('setStepMs', stepMs);
  }
  await waitUntil('every subscription to complete', 60_000, () => {
    throwOnError(subs);
    return subs.every((s) => s.completed);
  });
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
