import { createPubSub, type PubSub } from 'graphql-yoga';
import type { Job } from './domain.js';

// The typed pub/sub seam. In one process it is Yoga's in-memory pub/sub; with REDIS_URL an event target on Redis
// replaces it, so an instance's subscribers see changes that another instance polled.

export interface JobTopics {
  [topic: string]: [string, Job] | [Job];
  'job:updated': [jobId: string, job: Job];
}

export type JobPubSub = PubSub<JobTopics>;

export function createJobPubSub(options?: Parameters<typeof createPubSub<JobTopics>>[0]): JobPubSub {
  return createPubSub<JobTopics>(options);
}
