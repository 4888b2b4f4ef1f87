import type { Job } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { JobStore } from '../store/job-store.js';

/** At most this many unfinished jobs are picked up per rescan. */
const RESCAN_LIMIT = 10_000;

/**
 * Finds unfinished jobs in the store that the poller does not track yet: jobs submitted on another instance, or
 * taken over from one that died. One scan at a time; a failed scan is logged and the next one tries again.
 */
export class UnfinishedRescan {
  private timer: NodeJS.Timeout | undefined;
  private scanning = false;

  constructor(
    private readonly store: Pick<JobStore, 'listUnfinished'>,
    private readonly logger: Logger,
    /** The jobs the poller tracks already. */
    private readonly tracked: ReadonlyMap<string, unknown>,
    private readonly track: (job: Job) => void,
  ) {}

  /** Rescans every `everyMs`; 0 never. */
  start(everyMs: number): void {
    if (everyMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.scan(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async scan(): Promise<void> {
    if (this.scanning) return;
    this.scanning = true;
    try {
      const jobs = await this.store.listUnfinished(RESCAN_LIMIT);
      let found = 0;
      for (const job of jobs) {
        if (this.tracked.has(job.id)) continue;
        found++;
        this.track(job);
      }
      if (found > 0) this.logger.debug({ found }, 'rescan found unfinished jobs');
    } catch (err) {
      this.logger.warn({ err }, 'could not rescan unfinished jobs');
    } finally {
      this.scanning = false;
    }
  }
}
