import { setMaxListeners } from 'node:events';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import type { TypedEventTarget } from '@graphql-yoga/typed-event-target';
import type { Job } from '../../domain/job.js';

// The typed pub/sub seam. In one process it runs on an in-memory EventTarget; with REDIS_URL the gateway hands it an
// event target on Redis (services/scale-out), so an instance's subscribers see changes that another instance polled.

export interface JobTopics {
  [topic: string]: [string, Job] | [Job];
  'job:updated': [jobId: string, job: Job];
  /** The same change, on its owner's topic: what a subscription to many of an owner's jobs listens to. */
  'job:owner-updated': [owner: string, job: Job];
  /** The upstream pushed this job's state (a webhook): every instance's poller drops to reconciliation reads. */
  'job:pushed': [job: Job];
}

export type JobPubSub = PubSub<JobTopics>;

/** What carries the events: anything shaped like an EventTarget of CustomEvents. */
export type JobEventTarget = TypedEventTarget<CustomEvent>;

export function createJobPubSub(eventTarget?: JobEventTarget): JobPubSub {
  if (eventTarget) return createPubSub<JobTopics>({ eventTarget });
  // One listener per SSE subscriber (or per shared graphql-ws stream) of a job is expected, not a leak: without
  // this, Node warns (MaxListenersExceededWarning) from the eleventh subscriber of one job on.
  const local = new EventTarget();
  setMaxListeners(0, local);
  return createPubSub<JobTopics>({ eventTarget: local as JobEventTarget });
}

/** Tells every subscriber of a job, and of its owner's jobs, that it changed: the one way a change is published. */
export function publishJobUpdated(events: JobPubSub, job: Job): void {
  events.publish('job:updated', job.id, job);
  events.publish('job:owner-updated', job.owner, job);
}
