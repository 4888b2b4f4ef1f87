import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { TypedEventTarget } from '@graphql-yoga/typed-event-target';
import type { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';

// Events on Redis channels (`<prefix><topic>:<id>`): every instance's subscribers hear every publish. Handed to the
// job pub/sub (services/jobs/job-events.ts), which stays the only typed face of it.
//
// Our own rather than @graphql-yoga/redis-event-target, which sends every event through Redis and leaves the
// promises of PUBLISH, SUBSCRIBE and UNSUBSCRIBE unhandled: with Redis away, each one was an unhandled rejection
// that ended the process. Here an event is dispatched to this instance's listeners first, then published (tagged
// with the instance id, so that it is not heard twice when it comes back); no Redis call is ever left unhandled,
// and the channels listened to are this target's own list, subscribed again whenever the connection is ready.

type Target = TypedEventTarget<CustomEvent>;

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

/** What travels on a channel: who sent it, and the event's detail. */
interface Envelope {
  from: string;
  detail: unknown;
}

export interface RedisEventTargetOptions {
  publishClient: Redis;
  /** A connection of its own: in subscriber mode it cannot run other commands. */
  subscribeClient: Redis;
  /** Put before every channel name, so that deployments (or test runs) sharing one Redis do not hear each other. */
  channelPrefix?: string;
  /** Tags this instance's messages so that it ignores them when Redis hands them back (default: a fresh id). */
  instanceId?: string;
  logger?: Logger;
}

export function createPrefixedRedisEventTarget(options: RedisEventTargetOptions): Target {
  const { publishClient: pub, subscribeClient: sub } = options;
  const prefix = options.channelPrefix ?? '';
  const instanceId = options.instanceId ?? randomUUID();
  const log = options.logger?.child({ component: 'redis-pubsub' });
  const local = new EventTarget() as Target;
  // One listener per subscriber of a job is expected, not a leak (as for the in-memory target in job-events.ts).
  setMaxListeners(0, local);
  const listening = new Map<string, Set<unknown>>();
  const outbox = new PublishOutbox(pub, instanceId, log);

  const subscribe = (channels: string[]) => {
    if (channels.length === 0 || sub.status !== 'ready') return; // Done on 'ready' instead.
    sub
      .subscribe(...channels)
      .catch((err: unknown) =>
        log?.warn({ err, channels: channels.length }, 'could not subscribe; again on reconnect'),
      );
  };
  // Not ioredis's autoResubscribe: it remembers only subscriptions Redis confirmed, and loses one asked while away.
  sub.on('ready', () => subscribe([...listening.keys()].map((type) => prefix + type)));
  // Every instance listens on the channels it publishes to, so Redis hands each of its own messages back: they are
  // known by their start (the envelope's first key, as stringify writes it) and dropped without being decoded.
  const ownMessageStart = `{"from":${JSON.stringify(instanceId)},`;
  sub.on('message', (channel: string, message: string) => {
    if (!channel.startsWith(prefix) || message.startsWith(ownMessageStart)) return;
    // A message that arrives after the last listener left (before Redis took the unsubscribe) has nobody to go to.
    if (!listening.has(channel.slice(prefix.length))) return;
    let envelope: Envelope;
    try {
      envelope = dateRevivingSerializer.parse(message) as Envelope;
    } catch (err) {
      log?.warn({ err, channel }, 'ignored a message that is not JSON');
      return;
    }
    if (envelope?.from === instanceId) return;
    local.dispatchEvent(new CustomEvent(channel.slice(prefix.length), { detail: envelope?.detail }));
  });

  return {
    addEventListener(type, listener, listenerOptions) {
      local.addEventListener(type, listener, listenerOptions);
      if (!listener) return;
      let listeners = listening.get(type);
      if (!listeners) listening.set(type, (listeners = new Set()));
      listeners.add(listener);
      if (listeners.size === 1) subscribe([prefix + type]);
    },
    removeEventListener(type, listener, listenerOptions) {
      local.removeEventListener(type, listener, listenerOptions);
      const listeners = listening.get(type);
      if (!listener || !listeners?.delete(listener) || listeners.size > 0) return;
      listening.delete(type);
      // While Redis is away there is nothing to undo: the channel is not in the list subscribed to on reconnect.
      if (sub.status !== 'ready') return;
      sub
        .unsubscribe(prefix + type)
        .catch((err: unknown) => log?.debug({ err, channel: prefix + type }, 'could not unsubscribe'));
    },
    dispatchEvent(event) {
      const delivered = local.dispatchEvent(new CustomEvent(event.type, { detail: event.detail }));
      // Offline, other instances miss this event: their own polls (or the lease holder's, once back) catch them up.
      if (pub.status === 'ready') outbox.add(prefix + event.type, event.detail);
      return delivered;
    },
  };
}

/**
 * What this tick publishes, sent together once it ends: one write to Redis for all of them (a job's change goes to
 * its own topic and its owner's, and a burst of polls finishes several changes at once), and one encoding for a
 * detail published on several channels (the same Job object on both topics).
 */
class PublishOutbox {
  private pending: { channel: string; message: string }[] = [];
  private lastDetail: unknown;
  private lastMessage = '';

  constructor(
    private readonly pub: Redis,
    private readonly instanceId: string,
    private readonly log: Logger | undefined,
  ) {}

  add(channel: string, detail: unknown): void {
    if (this.pending.length === 0) queueMicrotask(() => this.flush());
    // The same detail as the last one (a change on its job's topic, then its owner's) has the same message.
    if (this.pending.length === 0 || detail !== this.lastDetail) {
      const envelope: Envelope = { from: this.instanceId, detail };
      this.lastDetail = detail;
      this.lastMessage = dateRevivingSerializer.stringify(envelope);
    }
    this.pending.push({ channel, message: this.lastMessage });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.lastDetail = undefined;
    if (this.pub.status !== 'ready') return;
    const channels = batch.length;
    if (channels === 1) {
      const [{ channel, message }] = batch as [{ channel: string; message: string }];
      this.pub
        .publish(channel, message)
        .catch((err: unknown) => this.log?.debug({ err, channel }, 'could not publish'));
      return;
    }
    const pipeline = this.pub.pipeline();
    for (const { channel, message } of batch) pipeline.publish(channel, message);
    pipeline.exec().then(
      (results) => {
        const failed = results?.find(([err]) => err)?.[0];
        if (failed) this.log?.debug({ err: failed, channels }, 'could not publish');
      },
      (err: unknown) => this.log?.debug({ err, channels }, 'could not publish'),
    );
  }
}
