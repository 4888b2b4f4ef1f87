import type { AiEditRequest, Job, StatusChange } from '../../domain/job.js';

// How long jobs take, learned from the gateway's own finished jobs, and when to read a running job next by it.
//
// Durations are kept per (model, number of images) on two clocks: from the upstream's acceptance to the final
// status, and from the first read that saw PROCESSING to the final status. Both ends are times the gateway saw, so a
// running job measured the same way is compared like with like. A running job is judged by the durations of the
// jobs that were still running at its age (the conditional distribution of the remaining time given the elapsed
// time), on the PROCESSING clock once it was seen PROCESSING. Its next read comes after the gap g at which
// g × P(finished within g) reaches a fixed share of the typical duration (HAZARD_SHARE): a read costs the same
// wherever it falls, a gap costs delay in proportion to the jobs that finish inside it, so reads crowd where the
// hazard of finishing is high and thin out where a result is unlikely (this spacing, g ∝ 1/√hazard, minimises the
// expected delay for a given number of reads). Once reads have begun no gap is wider than MAX_GAP_SHARE of the
// typical duration (the tail's p95 depends on it), and never narrower than one poll interval. With too little
// history the fixed cadence applies.

/** Finished jobs of one kind needed before their durations are trusted. */
export const MIN_SAMPLES = 20;
/**
 * The read's worth, as a share of the median duration: the next gap g is the widest with g × P(the job finishes
 * within g | still running) ≤ HAZARD_SHARE × median. Larger: fewer reads, later detection (bench/README.md).
 */
export const HAZARD_SHARE = 0.18;
/** Fewer remaining samples than this beyond a job's age: the job is overdue and read at a gap growing with age. */
const MIN_TAIL = 3;
const OVERDUE_GAP_FRACTION = 0.1;
const MIN_WIDEST_GAP_MS = 30_000;
export const MAX_GAP_SHARE = 0.3;

/**
 * The knobs when the account has room to spare: reads come denser (offline, about 5.8 reads per job for p50 1.5 s
 * and p95 2.8 s, against about 3 for 3.3 s and 5.8 s with HAZARD_SHARE and MAX_GAP_SHARE; bench/schedule-frontier.ts).
 * Reads cost nothing but budget, and budget left unused in a minute is gone.
 */
export const LOOSE_TUNING = { hazardShare: 0.05, maxGapShare: 0.15 };
export const TIGHT_TUNING = { hazardShare: HAZARD_SHARE, maxGapShare: MAX_GAP_SHARE };
/** Share of the account's minute used at and below which the loose knobs apply, and from which the tight ones do. */
export const LOOSE_BELOW_USE = 0.4;
export const TIGHT_FROM_USE = 0.75;

/**
 * The planner's knobs for how much of the account's minute is in use (0..1, every instance's grants): loose with
 * room to spare, tight near the limit, in between linearly. More reads raise the use, which tightens the knobs: the
 * schedule settles where the account is well used but not queueing.
 */
export function tuningForBudgetUse(use: number): { hazardShare: number; maxGapShare: number } {
  const t = Math.min(1, Math.max(0, (use - LOOSE_BELOW_USE) / (TIGHT_FROM_USE - LOOSE_BELOW_USE)));
  return {
    hazardShare: LOOSE_TUNING.hazardShare + t * (TIGHT_TUNING.hazardShare - LOOSE_TUNING.hazardShare),
    maxGapShare: LOOSE_TUNING.maxGapShare + t * (TIGHT_TUNING.maxGapShare - LOOSE_TUNING.maxGapShare),
  };
}

/** The kind of job durations are kept for. */
export const durationKey = (request: AiEditRequest): string =>
  `${request.options.model ?? 'default'}/${request.output?.numberOfImages ?? 1}`;

/**
 * When the upstream took the job: its first status that is not the gateway's own (a job waiting in the gateway's
 * submit queue has not started), else when it was created.
 */
export function upstreamStartMs(job: Job): number {
  const started = job.history.find((change) => (change.status as string) !== 'QUEUED');
  return (started?.at ?? job.createdAt).getTime();
}

/**
 * When a status change most likely happened: the middle of (since, at] when the read that saw it tells when the
 * status before was last seen, else its time (a push, a submit's answer, or a row from before `since` was kept).
 * Learning from the reads' own times would count every duration long by its detection delay, which the schedule
 * would then wait out too: later reads, longer delays, longer learned durations.
 */
export function changedAtMs(change: StatusChange): number {
  const at = change.at.getTime();
  return change.since ? (change.since.getTime() + at) / 2 : at;
}

/** When the job most likely became PROCESSING (changedAtMs); null if it was never seen so. */
export function processingStartMs(job: Job): number | null {
  const change = job.history.find((c) => c.status === 'PROCESSING');
  return change ? changedAtMs(change) : null;
}

interface KindSamples {
  /** Sorted, milliseconds from upstreamStartMs to the final status (changedAtMs). */
  total: number[];
  /** Sorted, milliseconds from processingStartMs to the final status. */
  fromProcessing: number[];
  /** How many of `total` end at a read's own time (no `since`): counted long by their detection delay. */
  inexact: number;
}

/** The durations one job is judged by: sorted, measured from `originMs`. */
export interface DurationBasis {
  originMs: number;
  sortedMs: readonly number[];
  /**
   * How much longer than the tasks' real durations the samples run, on average: the read planner counts a job this
   * much older. 0 when every sample's finish is placed inside its read gap (changedAtMs); for samples from rows
   * without it, half the widest gap near the finish, in their share. 0 on the PROCESSING clock (both ends alike).
   */
  detectionLagMs: number;
}

export class DurationModel {
  private constructor(private readonly kinds: ReadonlyMap<string, KindSamples>) {}

  static readonly empty = new DurationModel(new Map());

  /** Learns from DONE jobs (others are ignored); the newest jobs should come first when the list is bounded. */
  static fromJobs(jobs: readonly Job[]): DurationModel {
    const kinds = new Map<string, KindSamples>();
    for (const job of jobs) {
      if (job.status !== 'DONE' || !job.finishedAt) continue;
      const done = job.history.findLast((change) => change.status === 'DONE');
      const finished = done ? changedAtMs(done) : job.finishedAt.getTime();
      const key = durationKey(job.request);
      let kind = kinds.get(key);
      if (!kind) {
        kind = { total: [], fromProcessing: [], inexact: 0 };
        kinds.set(key, kind);
      }
      kind.total.push(Math.max(0, finished - upstreamStartMs(job)));
      if (!done?.since) kind.inexact++;
      const processing = processingStartMs(job);
      if (processing !== null) kind.fromProcessing.push(Math.max(0, finished - processing));
    }
    for (const kind of kinds.values()) {
      kind.total.sort((a, b) => a - b);
      kind.fromProcessing.sort((a, b) => a - b);
    }
    return new DurationModel(kinds);
  }

  /** How many finished jobs of this job's kind were learned from. */
  samples(job: Job): number {
    return this.kinds.get(durationKey(job.request))?.total.length ?? 0;
  }

  /** The durations to judge `job` by: from PROCESSING once it was seen so and enough history has that, else from
   * the start; null with too little history (fixed cadence). */
  basis(job: Job): DurationBasis | null {
    const kind = this.kinds.get(durationKey(job.request));
    if (!kind) return null;
    const processing = job.status === 'PROCESSING' ? processingStartMs(job) : null;
    if (processing !== null && kind.fromProcessing.length >= MIN_SAMPLES) {
      return { originMs: processing, sortedMs: kind.fromProcessing, detectionLagMs: 0 };
    }
    if (kind.total.length < MIN_SAMPLES) return null;
    const median = kind.total[kind.total.length >> 1] ?? 0;
    const inexactShare = kind.inexact / kind.total.length;
    return {
      originMs: upstreamStartMs(job),
      sortedMs: kind.total,
      detectionLagMs: (inexactShare * median * MAX_GAP_SHARE) / 2,
    };
  }

  /** The median finish of jobs like this one that were still running when it was last read; null if unknown. */
  estimatedFinishAt(job: Job, lastReadAt: number): Date | null {
    const basis = this.basis(job);
    if (!basis) return null;
    const later = beyond(basis.sortedMs, lastReadAt - basis.originMs);
    const median = later.length > 0 ? later[Math.floor(later.length / 2)] : undefined;
    return median === undefined ? null : new Date(basis.originMs + median);
  }
}

export interface NextReadInput {
  /** From DurationModel.basis; null: the fixed cadence. */
  basis: DurationBasis | null;
  /** The job's last upstream read (or its submit), ms. */
  lastReadAt: number;
  pollIntervalMs: number;
  backgroundPollIntervalMs: number;
  /** HAZARD_SHARE and MAX_GAP_SHARE by default; bench/schedule-frontier.ts sweeps them. */
  tuning?: { hazardShare: number; maxGapShare: number };
}

/** When to read a running job next: never within pollIntervalMs of its last read. */
export function nextReadAt({
  basis,
  lastReadAt,
  pollIntervalMs,
  backgroundPollIntervalMs,
  tuning = { hazardShare: HAZARD_SHARE, maxGapShare: MAX_GAP_SHARE },
}: NextReadInput): number {
  const soonest = lastReadAt + pollIntervalMs;
  if (!basis) return soonest;
  const widestGap = Math.max(pollIntervalMs, backgroundPollIntervalMs, MIN_WIDEST_GAP_MS);
  const sinceOrigin = lastReadAt - basis.originMs;
  const age = sinceOrigin + basis.detectionLagMs;
  const later = beyond(basis.sortedMs, age);
  if (later.length < MIN_TAIL) {
    return Math.min(lastReadAt + widestGap, Math.max(soonest, lastReadAt + Math.max(0, age) * OVERDUE_GAP_FRACTION));
  }
  const median = basis.sortedMs[basis.sortedMs.length >> 1] ?? 0;
  // Once reads have begun (the job is older than one interval on its clock), no gap wider than a share of the
  // typical duration: the tail's falling density would otherwise stretch them far past what a late job can afford.
  const maxGap =
    sinceOrigin >= pollIntervalMs
      ? Math.min(widestGap, Math.max(pollIntervalMs, median * tuning.maxGapShare))
      : widestGap;
  return lastReadAt + gapForHazard(later, age, tuning.hazardShare * median, pollIntervalMs, maxGap);
}

/**
 * The widest gap in [minGap, maxGap] with gap × (share of `later` ended within it) ≤ worth. The share is a step
 * function: where a step would break the rule, the read comes at that step (when the jobs like it end), not just
 * before it.
 */
function gapForHazard(later: readonly number[], age: number, worth: number, minGap: number, maxGap: number): number {
  const n = later.length;
  let gap = maxGap;
  for (let k = 1; k <= n; k++) {
    const reach = (later[k - 1] ?? 0) - age; // at this gap, k of the n have ended
    if (reach >= maxGap) break;
    const limit = (worth * n) / k;
    if (limit < reach) {
      gap = reach;
      break;
    }
    const nextReach = k < n ? (later[k] ?? 0) - age : Number.POSITIVE_INFINITY;
    if (limit < nextReach) {
      gap = Math.min(limit, maxGap);
      break;
    }
  }
  return Math.round(Math.min(maxGap, Math.max(minGap, gap)));
}

/**
 * Share of the jobs still running at a pushed job's age that should have ended, and so sent their final webhook,
 * before a reconciliation read is worth its cost.
 */
export const RECONCILE_QUANTILE = 0.95;

/**
 * When to read a job whose state a webhook pushed (reconciliation: webhooks get lost): not before the background
 * cadence, nor before nearly every job like it would have finished and been pushed DONE, nor later than
 * widest gap after the background cadence.
 */
export function reconcileAt({ basis, lastReadAt, backgroundPollIntervalMs }: Omit<NextReadInput, 'pollIntervalMs'>) {
  const cadence = lastReadAt + backgroundPollIntervalMs;
  if (!basis) return cadence;
  const later = beyond(basis.sortedMs, lastReadAt - basis.originMs);
  if (later.length < MIN_TAIL) return cadence;
  const expected = basis.originMs + (later[Math.floor(RECONCILE_QUANTILE * later.length)] ?? 0);
  return Math.min(cadence + MIN_WIDEST_GAP_MS, Math.max(cadence, expected));
}

/** The samples greater than `ms` (a job that age was still running), by binary search. */
function beyond(sorted: readonly number[], ms: number): readonly number[] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] ?? 0) <= ms) lo = mid + 1;
    else hi = mid;
  }
  return sorted.slice(lo);
}
