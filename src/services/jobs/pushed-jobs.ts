import { isFinalStatus, type Job } from '../../domain/job.js';

// Which unfinished jobs have had a state pushed by the upstream (a webhook, heard on any instance): the poller reads
// those only at the background cadence, as reconciliation. Bounded, oldest forgotten first: a job forgotten here
// (or never heard of, after a restart) is merely read at its usual cadence again.

const DEFAULT_LIMIT = 50_000;

export class PushedJobs {
  private readonly ids = new Set<string>();

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  /** Notes a pushed state; a final job needs no entry, since nothing reads it any more. */
  note(job: Job): void {
    this.ids.delete(job.id);
    if (isFinalStatus(job.status)) return;
    this.ids.add(job.id);
    if (this.ids.size <= this.limit) return;
    const oldest = this.ids.values().next();
    if (!oldest.done) this.ids.delete(oldest.value);
  }

  has(jobId: string): boolean {
    return this.ids.has(jobId);
  }
}
