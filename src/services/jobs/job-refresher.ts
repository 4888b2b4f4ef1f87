import { isFinalStatus, type Job } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { PollCoordinator } from '../scale-out/poll-coordinator.js';
import type { JobStore } from '../store/job-store.js';
import type { ClaidClient } from '../upstream/claid-client.js';
import type { JobPubSub } from './job-events.js';

/**
 * Reads one job's task upstream, records it and publishes a change. Concurrent callers for the same job share one
 * in-flight upstream read, whether they are queries, subscriptions or the poller. With several instances a job is
 * read only by the holder of its lease: elsewhere a refresh serves the stored state, and the holder's next poll
 * publishes whatever changed.
 */
export class JobRefresher {
  private readonly inFlight = new Map<string, Promise<Job>>();

  constructor(
    private readonly deps: {
      store: JobStore;
      claid: ClaidClient;
      events: JobPubSub;
      logger: Logger;
      now?: () => Date;
      /** Who may read a job (several instances); without one, this process may read every job. */
      coordinator?: Pick<PollCoordinator, 'claim' | 'release'>;
    },
  ) {}

  /**
   * Refreshes `job` from upstream. Never rejects for an upstream failure: the stored state is returned and the
   * failure logged, because a stale answer serves a reader better than an error while the poller keeps trying.
   * Set `throwOnError` to see the failure (the poller uses it for back-off). Set `leased` when the caller has just
   * claimed the job's lease itself (the poller), so it is not claimed twice.
   */
  refresh(job: Job, options: { throwOnError?: boolean; leased?: boolean } = {}): Promise<Job> {
    if (isFinalStatus(job.status)) return Promise.resolve(job);
    let pending = this.inFlight.get(job.id);
    if (!pending) {
      pending = (options.leased ? this.read(job) : this.readIfLeased(job)).finally(() => this.inFlight.delete(job.id));
      this.inFlight.set(job.id, pending);
    }
    if (options.throwOnError) return pending;
    return pending.catch((error: unknown) => {
      this.deps.logger.warn(
        { jobId: job.id, upstreamId: job.upstreamId, err: error },
        'upstream read failed; serving stored state',
      );
      return job;
    });
  }

  private async readIfLeased(job: Job): Promise<Job> {
    const coordinator = this.deps.coordinator;
    if (coordinator && !(await coordinator.claim(job.id)).held) return job;
    return this.read(job);
  }

  private async read(job: Job): Promise<Job> {
    const state = await this.deps.claid.getTask(job.upstreamId);
    const at = (this.deps.now ?? (() => new Date()))();
    const applied = await this.deps.store.applyUpstreamState(job.id, state, at);
    if (!applied) return job;
    if (applied.changed) this.deps.events.publish('job:updated', applied.job.id, applied.job);
    // A final job needs no reader: free its lease (also when a query, not this instance's poller, took it).
    if (isFinalStatus(applied.job.status)) await this.deps.coordinator?.release(job.id);
    return applied.job;
  }
}
