import { isFinalStatus, isSentJob, type UpstreamTaskState } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { JobStore } from '../store/job-store.js';
import { fromClaidTask } from '../upstream/claid-mapping.js';
import type { JobPubSub } from './job-events.js';
import type { JobRefresher } from './job-refresher.js';
import { foreignTaskReason } from './task-match.js';

// A Claid notification, once its signature has been checked, applied like a status read: parsed by the same
// mapping, checked against the job like a read (task-match.ts), recorded through the refresher. A repeat or a late
// arrival changes nothing, since the store moves a status only forward.

export type WebhookOutcome =
  /** The task's jobs took the state (changed or not). */
  | { kind: 'applied'; upstreamId: number; jobIds: string[] }
  /** No job of the gateway's has this task, or every one is already final or another task's. */
  | { kind: 'ignored'; upstreamId: number; reason: string }
  /** Not a Claid task. */
  | { kind: 'invalid'; reason: string };

export class ClaidWebhookIntake {
  constructor(
    private readonly deps: {
      store: Pick<JobStore, 'findByUpstreamId'>;
      refresher: Pick<JobRefresher, 'applyPushed'>;
      events: JobPubSub;
      logger: Logger;
    },
  ) {}

  /** Applies the `data` of a notification. Rejects only when the store fails (the sender may try again). */
  async receive(data: unknown): Promise<WebhookOutcome> {
    let state: UpstreamTaskState;
    try {
      state = fromClaidTask(data);
    } catch (error) {
      return { kind: 'invalid', reason: error instanceof Error ? error.message : String(error) };
    }
    const { upstreamId } = state;
    const jobs = await this.deps.store.findByUpstreamId(upstreamId);
    if (jobs.length === 0) return this.ignored(upstreamId, 'no job has this task');
    const jobIds: string[] = [];
    for (const job of jobs) {
      if (isFinalStatus(job.status) || !isSentJob(job)) continue;
      const foreign = foreignTaskReason(job, state);
      if (foreign) {
        // Unlike a read, a push names no job: another job may own this id, so this one is left to its poller.
        this.deps.logger.warn({ jobId: job.id, upstreamId, reason: foreign }, 'webhook is about a foreign task');
        continue;
      }
      const applied = await this.deps.refresher.applyPushed(job, state);
      if (!applied) continue;
      jobIds.push(job.id);
      this.deps.events.publish('job:pushed', applied);
    }
    if (jobIds.length === 0) return this.ignored(upstreamId, 'its jobs are final or have another task');
    return { kind: 'applied', upstreamId, jobIds };
  }

  private ignored(upstreamId: number, reason: string): WebhookOutcome {
    this.deps.logger.info({ upstreamId, reason }, 'webhook for no unfinished job of this gateway');
    return { kind: 'ignored', upstreamId, reason };
  }
}
