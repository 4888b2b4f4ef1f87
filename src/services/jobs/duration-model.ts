import type { AiEditRequest, Job } from '../../domain/job.js';

// How long jobs take, learned from the gateway's own finished jobs, and when to read a running job next by it.
//
// Durations are kept per (model, number of images) on two clocks: from the upstream's acceptance to the final
// status, and from the first read that saw PROCESSING to the final status. Both ends are times the gateway saw, so a
// running job measured the same way is compared like with like. The next read of a job falls where a fixed share of
// the jobs that were still running at its last read have finished (the conditional quantile READ_STEP), never
// sooner than one poll interval after the last read and never later than the widest gap: where durations crowd, the
// reads crowd too; where a result is unlikely, they thin out. With too little history the fixed cadence applies.

/** Finished jobs of one kind needed before their durations are trusted. */
export const MIN_SAMPLES = 20;
/** Share of the still-running jobs' durations that each read is placed after. */
export const READ_STEP = 0.35;
/** Fewer remaining samples than this beyond a job's age: the job is overdue and read at a gap growing with age. */
const MIN_TAIL = 3;
const OVERDUE_GAP_FRACTION = 0.1;
const MIN_WIDEST_GAP_MS = 30_000;
export const MAX_GAP_SHARE = 0.3;

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

/** When the gateway first saw the job PROCESSING; null if it never did. */
export function processingSeenMs(job: Job): number | null {
  return job.history.find((change) => change.status === 'PROCESSING')?.at.getTime() ?? null;
}

interface KindSamples {
  /** Sorted, milliseconds from upstreamStartMs to the final status. */
  total: number[];
  /** Sorted, milliseconds from processingSeenMs to the final status. */
  fromProcessing: number[];
}

/** The durations one job is judged by: sorted, measured from `originMs`. */
export interface DurationBasis {
  originMs: number;
  sortedMs: readonly number[];
}

export class DurationModel {
  private constructor(private readonly kinds: ReadonlyMap<string, KindSamples>) {}

  static readonly empty = new DurationModel(new Map());

  /** Learns from DONE jobs (others are ignored); the newest jobs should come first when the list is bounded. */
  static fromJobs(jobs: readonly Job[]): DurationModel {
    const kinds = new Map<string, KindSamples>();
    for (const job of jobs) {
      if (job.status !== 'DONE' || !job.finishedAt) continue;
      const finished = job.finishedAt.getTime();
      const key = durationKey(job.request);
      let kind = kinds.get(key);
      if (!kind) {
        kind = { total: [], fromProcessing: [] };
        kinds.set(key, kind);
      }
      kind.total.push(Math.max(0, finished - upstreamStartMs(job)));
      const processing = processingSeenMs(job);
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
    const processing = job.status === 'PROCESSING' ? processingSeenMs(job) : null;
    if (processing !== null && kind.fromProcessing.length >= MIN_SAMPLES) {
      return { originMs: processing, sortedMs: kind.fromProcessing };
    }
    return kind.total.length >= MIN_SAMPLES ? { originMs: upstreamStartMs(job), sortedMs: kind.total } : null;
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
}

/** When to read a running job next: never within pollIntervalMs of its last read. */
export function nextReadAt({ basis, lastReadAt, pollIntervalMs, backgroundPollIntervalMs }: NextReadInput): number {
  const soonest = lastReadAt + pollIntervalMs;
  if (!basis) return soonest;
  const widest = lastReadAt + Math.max(pollIntervalMs, backgroundPollIntervalMs, MIN_WIDEST_GAP_MS);
  const age = lastReadAt - basis.originMs;
  const later = beyond(basis.sortedMs, age);
  if (later.length < MIN_TAIL) {
    return Math.min(widest, Math.max(soonest, lastReadAt + Math.max(0, age) * OVERDUE_GAP_FRACTION));
  }
  // Once reads have begun, no gap wider than a share of the typical duration: the tail's falling density would
  // otherwise stretch them far past what a late job can afford.
  const median = basis.sortedMs[basis.sortedMs.length >> 1] ?? 0;
  const started = age >= (basis.sortedMs[0] ?? 0);
  const capped = started ? Math.min(widest, lastReadAt + Math.max(pollIntervalMs, median * MAX_GAP_SHARE)) : widest;
  const target = basis.originMs + (later[Math.floor(READ_STEP * later.length)] ?? 0);
  return Math.min(capped, Math.max(soonest, target));
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
