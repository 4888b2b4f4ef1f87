import { readFileSync } from 'node:fs';
import { round } from './stats.js';
import { type Sub, WALK } from './subscribers.js';

// What each process's main thread did while a change fanned out, from /proc/<pid>/schedstat (Linux): nanoseconds on a
// CPU and nanoseconds runnable but waiting for one. Sampled every few ms from the benchmark's own process, so that it
// costs the measured processes nothing. For each status step (every job's change into WAITING, PROCESSING, DONE),
// over the window from the first change's `updatedAt` to the last frame received: if the gateways ran for most of it,
// their CPU bounds the fan-out; if they waited on the run queue, the core (shared with other work) does; if neither,
// the wait is elsewhere (the store, Redis, the network, the load generator).

type Sample = [at: number, runNs: number, waitNs: number];

function read(pid: number): [number, number] | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return [run!, wait!];
  } catch {
    return undefined;
  }
}

export interface SchedSampler {
  stop(): void;
  /** Per status step: the window, and per process (in the order given) ms on a CPU and ms waiting for one in it. */
  steps(subs: Sub[]): StepReport[];
}

export interface StepReport {
  status: string;
  windowMs: number;
  runMs: number[];
  waitMs: number[];
}

export function startSchedSampler(pids: number[], everyMs = 5): SchedSampler {
  const timelines: Sample[][] = pids.map(() => []);
  const sample = () => {
    const at = Date.now();
    pids.forEach((pid, i) => {
      const s = read(pid);
      if (s) timelines[i]!.push([at, s[0], s[1]]);
    });
  };
  sample();
  const timer = setInterval(sample, everyMs);
  const valueAt = (timeline: Sample[], t: number, k: 1 | 2) => {
    let prev = timeline[0]!;
    for (const point of timeline) {
      if (point[0] >= t) {
        const span = point[0] - prev[0];
        return span <= 0 ? point[k] : prev[k] + ((point[k] - prev[k]) * (t - prev[0])) / span;
      }
      prev = point;
    }
    return prev[k];
  };
  return {
    stop: () => {
      clearInterval(timer);
      sample();
    },
    steps(subs) {
      const windows = new Map<string, [number, number]>();
      for (const sub of subs)
        for (const e of sub.events.slice(1)) {
          const w = windows.get(e.status);
          if (!w) windows.set(e.status, [e.updatedAt, e.receivedAt]);
          else {
            w[0] = Math.min(w[0], e.updatedAt);
            w[1] = Math.max(w[1], e.receivedAt);
          }
        }
      return WALK.filter((s) => windows.has(s)).map((status) => {
        const [t0, t1] = windows.get(status)!;
        const ms = (k: 1 | 2) => timelines.map((tl) => round((valueAt(tl, t1, k) - valueAt(tl, t0, k)) / 1e6, 1));
        return { status, windowMs: t1 - t0, runMs: ms(1), waitMs: ms(2) };
      });
    },
  };
}
