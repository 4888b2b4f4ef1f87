import type { Job, JobStatus } from '../domain/job.js';
import type { UploadedImage } from '../domain/upload.js';
import type { Caller } from '../services/auth/authenticator.js';
import type { CallerUsage } from '../services/auth/caller-limits.js';
import type { JobService } from '../services/jobs/job-service.js';
import type { CallerWebhooks } from '../services/webhooks/caller-webhooks.js';

// What a resolver may read from the request's context. The schema's context (schema/context.ts) is this and more;
// resolvers import only this, so that they never depend on the schema that calls them.

export interface GatewayServices {
  jobs: JobService;
  /** Callers' webhooks: checked at submit, secrets, attempts (services/webhooks). */
  webhooks: CallerWebhooks;
  /** When a running job will likely finish, learned from finished ones (services/jobs/duration-history.ts). */
  estimatedFinishAt(job: Job): Date | null;
  /** A caller's limits and what it has used of them (services/auth/caller-limits.ts). */
  callerUsage(owner: string): Promise<CallerUsage>;
  /** A job's live state for one subscriber (services/jobs/job-updates.ts). */
  jobUpdates(owner: string, jobId: string): Promise<AsyncGenerator<Job>>;
  /** The changes of many of an owner's jobs for one subscriber (services/jobs/owner-job-updates.ts). */
  jobsUpdates(owner: string, filter: JobsUpdatesFilter): Promise<AsyncGenerator<Job>>;
  /** Uploaded input images (services/uploads). */
  uploads: { upload(owner: string, file: Blob): Promise<UploadedImage> };
}

/** Which of an owner's jobs a many-job subscription follows: all of them unless `jobIds`; any change unless `statuses`. */
export interface JobsUpdatesFilter {
  jobIds?: readonly string[];
  statuses?: readonly JobStatus[];
}

/** What a request read, as far as the read cache cares. */
export interface ReadTracker {
  /** The caller the read cache already authenticated for this very request. */
  readonly caller: Caller;
  /** Jobs handed to the schema (null: unknown or not the caller's); any that is missing or not final spoils the answer. */
  jobsRead(jobs: readonly (Job | null)[]): void;
  /** The request read something other than jobs by id (a connection, ...): its answer is never kept. */
  uncacheable(): void;
}

export interface ResolverContext {
  /** Who is calling; every job read and written is scoped to this owner (the caller's name). */
  owner: string;
  services: GatewayServices;
  /**
   * Present on HTTP requests whose answer the read cache may keep (src/transport/final-read-cache.ts), put there by
   * the transport: told what the request read, so that only answers made of final jobs are kept.
   */
  readTracker?: ReadTracker;
}
