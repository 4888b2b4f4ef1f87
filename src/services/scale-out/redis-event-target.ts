import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { TypedEventTarget } from '@graphql-yoga/typed-event-target';
import type { Redis } from 'ioredis';

// Events on Redis channels (`<prefix><topic>:<id>`): every instance's subscribers hear every publish. Handed to the
// job pub/sub (services/jobs/job-events.ts), which stays the only typed face of it.

type EventTarget = TypedEventTarget<CustomEvent>;

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

export interface RedisEventTargetOptions {
  publishClient: Redis;
  /** A connection of its own: in subscriber mode it cannot run other commands. */
  subscribeClient: Redis;
  /** Put before every channel name, so that deployments (or test runs) sharing one Redis do not hear each other. */
  channelPrefix?: string;
}

export function createPrefixedRedisEventTarget(options: RedisEventTargetOptions): EventTarget {
  const target = createRedisEventTarget<CustomEvent>({
    publishClient: options.publishClient,
    subscribeClient: options.subscribeClient,
    serializer: dateRevivingSerializer,
  });
  const prefix = options.channelPrefix ?? '';
  return prefix ? prefixedTarget(target, prefix) : target;
}

/** Renames channels on the way in and out; the pub/sub only reads `detail` from the events it gets back. */
function prefixedTarget(inner: EventTarget, prefix: string): EventTarget {
  return {
    addEventListener: (type, listener, options) => inner.addEventListener(prefix + type, listener, options),
    removeEventListener: (type, listener, options) => inner.removeEventListener(prefix + type, listener, options),
    dispatchEvent: (event) => inner.dispatchEvent(new CustomEvent(prefix + event.type, { detail: event.detail })),
  };
}
