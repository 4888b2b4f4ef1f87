import type { ExecutionResult } from 'graphql';
import { runAfterPendingIo } from '../lib/after-pending-io.js';
import { canonicalJson } from '../lib/canonical-json.js';
import { once } from '../lib/once.js';

// Subscribers that send the same subscription (same caller, document, operation name and variables) would get the
// same events. Instead of executing and serializing every event once per subscriber, they share one execution:
// each event is executed once and turned into JSON once, and every member is handed that same string. With 10,000
// subscribers on one job this is the difference between 10,000 executions per change and one.
//
// Sharing is only ever between subscriptions of one caller (the owner is part of the key), so no caller can receive
// another's events. Per-subscriber concerns stay per subscriber: each member takes its own subscription slot, and a
// slow member skips to the newest event instead of buffering (see SharedSubscriptionMember).

/** Marks the context of an execution that is itself shared, so that it is not shared again (see joinAs). */
export const SHARED_EXECUTION = Symbol('shared subscription execution');

/** What a subscriber brings: its own subscription slot to take (absent when callers are unlimited). */
export interface SubscriberContext {
  acquireSubscription?: (() => () => void) | undefined;
}

/** What makes two subscriptions the same: everything their events depend on. */
export interface SharedSubscriptionKey {
  owner: string;
  document: string;
  operationName?: string | null | undefined;
  variables?: Readonly<Record<string, unknown>> | null | undefined;
}

export function sharedSubscriptionKey(key: SharedSubscriptionKey): string {
  return [key.owner, key.operationName ?? '', key.document, canonicalJson(key.variables ?? {})].join('\u0000');
}

/** One event of a shared stream, executed once and serialized once, the same object for every member. */
export interface SharedEvent {
  /**
   * The result. Without errors it carries `stringify()`, which graphql-yoga's SSE (and multipart) writers use
   * instead of JSON.stringify: they write `json` too. With errors it is left alone, so that each subscriber's own
   * error masking and sanitizing applies.
   */
  result: ExecutionResult;
  /** The result's JSON. */
  json: string;
  /**
   * What the event is about: the `id` of the object its root field returned (a job), when selected. A slow member
   * keeps the newest event per key, so a stream about many jobs skips a job's intermediate states, never a job;
   * a stream about one has one key, and keeps just the newest event.
   */
  key: unknown;
}

/** One subscriber of a shared stream. */
export interface SharedSubscriptionMember {
  next(event: SharedEvent): void;
  /** The stream ended after its last event. */
  complete(): void;
  /** The stream failed; the member ends with this error. */
  fail(error: unknown): void;
}

/** Starts the one execution a stream shares: the subscription's event stream, or an ExecutionResult (its errors). */
export type StartSubscription = () =>
  | AsyncIterable<ExecutionResult>
  | ExecutionResult
  | Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;

export type JoinOutcome =
  /** The member is in; `leave` takes it out (safe to call more than once). */
  | { joined: true; leave: () => void }
  /** The subscription could not start (e.g. NOT_FOUND): every member that waited for it gets this result. */
  | { joined: false; result: ExecutionResult };

/** A member and whether it has had its first event (it joins after the stream started, so `last` comes first). */
interface Entry {
  member: SharedSubscriptionMember;
  primed: boolean;
}

class SharedStream {
  readonly entries = new Set<Entry>();
  /** The newest event: what a late member sees first, as a subscription of its own would. */
  private last: SharedEvent | undefined;
  private source: AsyncIterator<ExecutionResult> | undefined;
  private stopped = false;
  readonly started: Promise<ExecutionResult | undefined>;

  constructor(
    start: StartSubscription,
    private readonly onEnd: () => void,
  ) {
    // Yoga's execution may answer synchronously (e.g. `{ errors }` for bad variables) or throw outright: both
    // must become this promise's outcome.
    this.started = Promise.resolve()
      .then(start)
      .then(
        (outcome) => {
          if (!isAsyncIterable(outcome)) {
            this.end();
            return outcome;
          }
          this.source = outcome[Symbol.asyncIterator]();
          // Everyone may have left while it started.
          if (this.stopped) void this.source.return?.();
          else void this.pump();
          return undefined;
        },
        (error: unknown) => {
          this.end();
          throw error;
        },
      );
  }

  /** Gives a member that joined a running stream its first event: the newest one, if any came yet. */
  prime(entry: Entry): void {
    if (entry.primed) return;
    entry.primed = true;
    if (this.last !== undefined) entry.member.next(this.last);
  }

  private async pump(): Promise<void> {
    const source = this.source!;
    try {
      for (;;) {
        const step = await source.next();
        if (step.done || this.stopped) break;
        const event = sharedEvent(step.value);
        this.last = event;
        for (const entry of this.entries) if (entry.primed) entry.member.next(event);
      }
    } catch (error) {
      this.end();
      for (const entry of this.entries) entry.member.fail(error);
      return;
    }
    this.end();
    // The final event is out; its completions wait for the events that have arrived meanwhile (lib/after-pending-io).
    // A member that leaves before then is not completed.
    runAfterPendingIo(() => {
      for (const entry of this.entries) {
        this.prime(entry);
        entry.member.complete();
      }
    });
  }

  /** Stops sharing: no new member joins this stream; the source is released. */
  end(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onEnd();
    void this.source?.return?.();
  }
}

export class SharedSubscriptions {
  private readonly streams = new Map<string, SharedStream>();

  /** Distinct executions running now (for tests and diagnostics). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Members over all streams (for tests and diagnostics). */
  get memberCount(): number {
    let count = 0;
    for (const stream of this.streams.values()) count += stream.entries.size;
    return count;
  }

  /**
   * Joins `member` as one subscriber of `context`'s caller, for every transport alike: takes that subscriber's slot
   * (throws RATE_LIMITED when none is left), starts the shared execution if none runs, with a copy of the context
   * that takes no slot of its own and is marked SHARED_EXECUTION, and folds releasing the slot into `leave`. The
   * slot is released on every other way out.
   */
  async joinAs<C extends SubscriberContext>(
    context: C,
    key: string,
    start: (sharedContext: C) => ReturnType<StartSubscription>,
    member: SharedSubscriptionMember,
  ): Promise<JoinOutcome> {
    const release = takeSlot(context);
    try {
      const outcome = await this.join(key, startShared(context, start), member);
      if (!outcome.joined) {
        release();
        return outcome;
      }
      return { joined: true, leave: both(outcome.leave, release) };
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Adds `member` to the stream for `key`, starting it with `start` if none runs. A member joining a running stream
   * gets its newest event at once. Rejects if starting threw.
   */
  async join(key: string, start: StartSubscription, member: SharedSubscriptionMember): Promise<JoinOutcome> {
    const stream = this.streams.get(key) ?? this.open(key, start);
    const entry: Entry = { member, primed: false };
    stream.entries.add(entry);
    let failure: ExecutionResult | undefined;
    try {
      failure = await stream.started;
    } catch (error) {
      stream.entries.delete(entry);
      throw error;
    }
    if (failure) {
      stream.entries.delete(entry);
      return { joined: false, result: failure };
    }
    // Still a member unless the stream already finished (and completed it) meanwhile.
    if (stream.entries.has(entry)) stream.prime(entry);
    return { joined: true, leave: leaving(stream, entry) };
  }

  private open(key: string, start: StartSubscription): SharedStream {
    const created: SharedStream = new SharedStream(start, () => {
      if (this.streams.get(key) === created) this.streams.delete(key);
    });
    this.streams.set(key, created);
    return created;
  }
}

// The closures a member keeps for as long as it is subscribed are made here, each in a scope of its own, so that
// they hold only what they use. Made inside joinAs or join, they would share those functions' scope, and with it
// the subscriber's key, its whole context and the copy made for starting, for the subscription's life.

/** Takes `context`'s subscriber slot (none when callers are unlimited); the result gives it back, once. */
function takeSlot(context: SubscriberContext): () => void {
  const releaseSlot = context.acquireSubscription?.();
  return once(() => releaseSlot?.());
}

/**
 * Starts the shared execution with a copy of the context that takes no slot of its own and is marked
 * SHARED_EXECUTION (made only by the member that starts it).
 */
function startShared<C extends SubscriberContext>(
  context: C,
  start: (sharedContext: C) => ReturnType<StartSubscription>,
): StartSubscription {
  return () => start({ ...context, acquireSubscription: undefined, [SHARED_EXECUTION]: true });
}

function both(first: () => void, second: () => void): () => void {
  return () => {
    first();
    second();
  };
}

/** Takes `entry` out of `stream` (safe to call more than once); the last one out ends the stream. */
function leaving(stream: SharedStream, entry: Entry): () => void {
  return () => {
    if (!stream.entries.delete(entry)) return;
    if (stream.entries.size === 0) stream.end();
  };
}

function sharedEvent(result: ExecutionResult): SharedEvent {
  const json = JSON.stringify(result);
  const key = eventKey(result);
  if (result.errors?.length || result.extensions) return { result, json, key };
  // Not enumerable: a plugin that spreads the result into a new one must not carry this JSON along with it.
  const shared = { ...result };
  Object.defineProperty(shared, 'stringify', { value: () => json, enumerable: false });
  return { result: shared, json, key };
}

/** The `id` of the object a subscription's (one) root field returned; undefined when there is none. */
export function eventKey(result: ExecutionResult): unknown {
  const [value] = Object.values(result.data ?? {});
  return value !== null && typeof value === 'object' ? (value as { id?: unknown }).id : undefined;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof Object(value)[Symbol.asyncIterator] === 'function';
}
