import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub, type PubSub } from 'graphql-yoga';
import { setMaxListeners } from 'node:events';
import type { Redis } from 'ioredis';
import type { Job } from './domain.js';

// The typed pub/sub seam. In one process it is Yoga's in-memory pub/sub; with REDIS_URL an event target on Redis
// replaces it, so an instance's subscribers see changes that another instance polled.

export interface JobTopics {
  [topic: string]: [string, Job] | [Job];
  'job:updated': [jobId: string, job: Job];
}

export type JobPubSub = PubSub<JobTopics>;

type JobEventTarget = NonNullable<NonNullable<Parameters<typeof createPubSub<JobTopics>>[0]>['eventTarget']>;

export function createJobPubSub(options?: Parameters<typeof createPubSub<JobTopics>>[0]): JobPubSub {
  if (options?.eventTarget) return createPubSub<JobTopics>(options);
  // One listener per SSE subscriber (or per shared graphql-ws stream) of a job is expected, not a leak: without
  // this, Node warns (MaxListenersExceededWarning) from the eleventh subscriber of one job on.
  const eventTarget = new EventTarget();
  setMaxListeners(0, eventTarget);
  return createPubSub<JobTopics>({ ...options, eventTarget });
}

const DATE_TAG = '$date';

/**
 * JSON that keeps Dates: a Date travels as `{"$date": "<ISO>"}` and comes back as a Date, wherever it sits in the
 * payload (a Job has them at the top, in history, in errors). One place for both directions, so no consumer ever
 * sees an ISO string where the domain promises a Date.
 */
export const dateRevivingSerializer = {
  stringify(message: unknown): string {
    return JSON.stringify(message, function (this: Record<string, unknown>, key, value: unknown) {
      // toJSON has already turned the Date into a string by the time `value` arrives; the holder still has the Date.
      const raw = this[key];
      return raw instanceof Date ? { [DATE_TAG]: raw.toISOString() } : value;
    });
  },
  parse(message: string): unknown {
    return JSON.parse(message, (_key, value: unknown) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const tagged = (value as Record<string, unknown>)[DATE_TAG];
        if (typeof tagged === 'string' && Object.keys(value).length === 1) return new Date(tagged);
      }
      return value;
    });
  },
};

export interface RedisJobPubSubOptions {
  publishClient: Redis;
  /** A connection of its own: in subscriber mode it cannot run other commands. */
  subscribeClient: Redis;
  /** Put before every channel name, so that deployments (or test runs) sharing one Redis do not hear each other. */
  channelPrefix?: string;
}

/** Pub/sub over Redis channels (`<prefix>job:updated:<jobId>`): every instance's subscribers hear every publish. */
export function createRedisJobPubSub(options: RedisJobPubSubOptions): JobPubSub {
  const target: JobEventTarget = createRedisEventTarget({
    publishClient: options.publishClient,
    subscribeClient: options.subscribeClient,
    serializer: dateRevivingSerializer,
  });
  const prefix = options.channelPrefix ?? '';
  return createJobPubSub({ eventTarget: prefix ? prefixedTarget(target, prefix) : target });
}

/** Renames channels on the way in and out; Yoga's pub/sub only reads `detail` from the events it gets back. */
function prefixedTarget(inner: JobEventTarget, prefix: string): JobEventTarget {
  return {
    addEventListener: (type, listener, options) => inner.addEventListener(prefix + type, listener, options),
    removeEventListener: (type, listener, options) => inner.removeEventListener(prefix + type, listener, options),
    dispatchEvent: (event) => inner.dispatchEvent(new CustomEvent(prefix + event.type, { detail: event.detail })),
  };
}
