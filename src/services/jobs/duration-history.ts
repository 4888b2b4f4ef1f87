import type { Job } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { JobStore } from '../store/job-store.js';
import { DurationModel, nextReadAt, reconcileAt, tuningForBudgetUse } from './duration-model.js';

// The duration model the poller and the schema share, relearned from the store's recently DONE jobs every
// `refreshIntervalMs`: the store is the history, so a restarted instance, or another one, learns the same.

export interface DurationHistoryOptions {
  store: Pick<JobStore, 'listRecentlyDone'>;
  logger: Logger;
  /** @default 60_000 */
  refreshIntervalMs?: number;
  /** How many recently DONE jobs are learned from, all kinds together. @default 1000 */
  sampleLimit?: number;
  /**
   * Share of the account's request minute in use now (0..1; the upstream budget's grant log): reads come denser while
   * the account has room (duration-model.ts tuningForBudgetUse). Absent: always the tight knobs.
   */
  budgetUse?: () => number;
}

/** When to read a running job next (learned strategy); the poller's view of DurationHistory. */
export interface ReadPlanner {
  nextReadAt(job: Job, lastReadAt: number, pollIntervalMs: number, backgroundPollIntervalMs: number): number;
  /** When to read a job a webhook pushed, as reconciliation: never before the background cadence. */
  reconcileAt(job: Job, lastReadAt: number, backgroundPollIntervalMs: number): number;
}

export class DurationHistory implements ReadPlanner {
  private model = DurationModel.empty;
  private timer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;

  constructor(private readonly options: DurationHistoryOptions) {
    this.logger = options.logger.child({ component: 'duration-history' });
  }

  /** Learns once now (a failure leaves the fixed cadence in place) and then every refreshIntervalMs. */
  async start(): Promise<void> {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs ?? 60_000);
    this.timer.unref();
    await this.refresh();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Relearns from the store now; returns whether it could. */
  async refresh(): Promise<boolean> {
    try {
      this.model = DurationModel.fromJobs(await this.options.store.listRecentlyDone(this.options.sampleLimit ?? 1000));
      return true;
    } catch (err) {
      this.logger.warn({ err }, 'could not learn job durations; keeping the previous ones');
      return false;
    }
  }

  nextReadAt(job: Job, lastReadAt: number, pollIntervalMs: number, backgroundPollIntervalMs: number): number {
    const use = this.options.budgetUse?.() ?? 1;
    return nextReadAt({
      basis: this.model.basis(job),
      lastReadAt,
      pollIntervalMs,
      backgroundPollIntervalMs,
      tuning: tuningForBudgetUse(use),
    });
  }

  reconcileAt(job: Job, lastReadAt: number, backgroundPollIntervalMs: number): number {
    return reconcileAt({ basis: this.model.basis(job), lastReadAt, backgroundPollIntervalMs });
  }

  /** An estimate of when a running job will finish; null for a final job or with too little history. */
  estimatedFinishAt(job: Job): Date | null {
    if (job.finishedAt) return null;
    return this.model.estimatedFinishAt(job, job.lastPolledAt.getTime());
  }
}
