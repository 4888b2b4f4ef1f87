// Seeded random draws for the arrivals scenario: Poisson arrival gaps and the simulator's per-task times, so that
// every gateway in a run faces the same jobs in the same order.

/** mulberry32: a small, fast, seedable generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller). */
function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export interface DurationSpec {
  medianMs: number;
  sigma: number;
  minMs: number;
  maxMs: number;
  /** PROCESSING starts at a uniform share of the duration between these. */
  processingShare: [number, number];
  /** WAITING comes this many ms after the submit, uniform between these (never after PROCESSING). */
  waitingMs: [number, number];
  seed: number;
}

/**
 * The arrivals benchmark's task times (median 20 s, σ 0.5, 5-90 s), which the offline frontier
 * (bench/schedule-frontier.ts) must draw from too: its figures are the best that benchmark's learned mode can reach.
 */
export const arrivalDurations = (seed: number): DurationSpec => ({
  medianMs: 20_000,
  sigma: 0.5,
  minMs: 5_000,
  maxMs: 90_000,
  processingShare: [0.2, 0.6],
  waitingMs: [500, 2_000],
  seed,
});

export interface PlannedTimes {
  waitingAtMs: number;
  processingAtMs: number;
  doneAtMs: number;
}

/** Log-normal durations (clamped), PROCESSING at a varying point of each: one plan per call, in order. */
export function durationPlanner(spec: DurationSpec): () => PlannedTimes {
  const random = seededRandom(spec.seed);
  const between = ([lo, hi]: [number, number]) => lo + (hi - lo) * random();
  return () => {
    const doneAtMs = Math.round(
      Math.min(spec.maxMs, Math.max(spec.minMs, spec.medianMs * Math.exp(spec.sigma * normal(random)))),
    );
    const processingAtMs = Math.round(doneAtMs * between(spec.processingShare));
    const waitingAtMs = Math.min(processingAtMs, Math.round(between(spec.waitingMs)));
    return { waitingAtMs, processingAtMs, doneAtMs };
  };
}

/** Arrival times (ms from 0) of a Poisson process at `perMinute`, up to `untilMs`. */
export function poissonArrivals(perMinute: number, untilMs: number, seed: number): number[] {
  const random = seededRandom(seed);
  const meanGapMs = 60_000 / perMinute;
  const times: number[] = [];
  for (let t = -Math.log(1 - random()) * meanGapMs; t < untilMs; t += -Math.log(1 - random()) * meanGapMs)
    times.push(Math.round(t));
  return times;
}
