import { Socket } from 'node:net';
import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import {
  SHARED_EXECUTION,
  type SharedEvent,
  type SharedSubscriptionMember,
  SharedSubscriptions,
  sharedSubscriptionKey,
} from '../src/transport/shared-subscriptions.js';
import { gql, SUBMIT, startTestGateway } from './support/gateway.js';
import { collect, collectSse, UPDATED, wsClient } from './support/subscriptions.js';
import { claidResult, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

// Identical subscriptions of one caller share one execution and one serialization per event; callers never share.

class RecordingMember implements SharedSubscriptionMember {
  readonly events: string[] = [];
  completed = false;
  failure: unknown;
  readonly results: ExecutionResult[] = [];
  next(event: SharedEvent) {
    this.events.push(event.json);
    this.results.push(event.result);
  }
  complete() {
    this.completed = true;
  }
  fail(error: unknown) {
    this.failure = error;
  }
}

/** A source the test pushes events into; counts how often it was started and whether it was released. */
function controllableSource() {
  const state = { starts: 0, returned: 0 };
  let push: ((result: ExecutionResult | null) => void) | undefined;
  const pending: (ExecutionResult | null)[] = [];
  const source = {
    next(): Promise<IteratorResult<ExecutionResult>> {
      const value = pending.shift();
      if (value !== undefined)
        return Promise.resolve(value === null ? { done: true, value: undefined } : { done: false, value });
      return new Promise(
        (resolve) => (push = (v) => resolve(v === null ? { done: true, value: undefined } : { done: false, value: v })),
      );
    },
    return(): Promise<IteratorResult<ExecutionResult>> {
      state.returned++;
      push?.(null);
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return source;
    },
  };
  return {
    state,
    start: async () => {
      state.starts++;
      return source as AsyncIterable<ExecutionResult>;
    },
    emit(value: ExecutionResult | null) {
      if (push) {
        const p = push;
        push = undefined;
        p(value);
      } else pending.push(value);
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('SharedSubscriptions', () => {
  it('starts one execution per key, serializes each event once, and hands every member the same string', async () => {
    const shared = new SharedSubscriptions();
    const source = controllableSource();
    const members = Array.from({ length: 5 }, () => new RecordingMember());
    const joins = await Promise.all(members.map((m) => shared.join('k', source.start, m)));
    expect(joins.every((j) => j.joined)).toBe(true);
    expect(source.state.starts).toBe(1);
    expect(shared.streamCount).toBe(1);
    expect(shared.memberCount).toBe(5);

    source.emit({ data: { n: 1 } });
    await tick();
    expect(members.map((m) => m.events)).toEqual(members.map(() => ['{"data":{"n":1}}']));
    // The very same result object, not five equal ones; it serializes to the shared string.
    expect(new Set(members.map((m) => m.results[0])).size).toBe(1);
    expect((members[0]!.results[0] as { stringify(): string }).stringify()).toBe('{"data":{"n":1}}');

    source.emit(null);
    await tick();
    expect(members.every((m) => m.completed)).toBe(true);
    expect(shared.streamCount).toBe(0);
  });

  it("a stream's completions wait for the events that arrived meanwhile: another stream's event goes out first", async () => {
    const shared = new SharedSubscriptions();
    const log: string[] = [];
    const member = (name: string): SharedSubscriptionMember => ({
      next: () => log.push(`${name} next`),
      complete: () => log.push(`${name} complete`),
      fail: () => log.push(`${name} failed`),
    });
    const a = controllableSource();
    const b = controllableSource();
    await shared.join('a', a.start, member('a1'));
    await shared.join('a', a.start, member('a2'));
    await shared.join('b', b.start, member('b'));
    // Two callbacks of one event-loop phase, as two changes arriving together: a's final event, then b's change.
    setTimeout(() => {
      a.emit({ data: { n: 1 } });
      a.emit(null);
    }, 0);
    setTimeout(() => b.emit({ data: { n: 1 } }), 0);
    // Both due by the time the loop looks, so that one timers phase runs them together.
    const until = performance.now() + 5;
    while (performance.now() < until) {}
    await tick();
    expect(log).toEqual(['a1 next', 'a2 next', 'b next', 'a1 complete', 'a2 complete']);
    expect(shared.streamCount).toBe(1);
  });

  it('a late member gets the newest event first, then the rest', async () => {
    const shared = new SharedSubscriptions();
    const source = controllableSource();
    const early = new RecordingMember();
    await shared.join('k', source.start, early);
    source.emit({ data: { n: 1 } });
    source.emit({ data: { n: 2 } });
    await tick();
    const late = new RecordingMember();
    await shared.join('k', source.start, late);
    expect(late.events).toEqual(['{"data":{"n":2}}']);
    source.emit({ data: { n: 3 } });
    await tick();
    expect(early.events).toEqual(['{"data":{"n":1}}', '{"data":{"n":2}}', '{"data":{"n":3}}']);
    expect(late.events).toEqual(['{"data":{"n":2}}', '{"data":{"n":3}}']);
    expect(source.state.starts).toBe(1);
  });

  it('releases the execution when the last member leaves; the next member starts a new one', async () => {
    const shared = new SharedSubscriptions();
    const source = controllableSource();
    const a = await shared.join('k', source.start, new RecordingMember());
    const b = await shared.join('k', source.start, new RecordingMember());
    if (!a.joined || !b.joined) throw new Error('not joined');
    a.leave();
    a.leave();
    expect(source.state.returned).toBe(0);
    b.leave();
    expect(source.state.returned).toBe(1);
    expect(shared.streamCount).toBe(0);
    await shared.join('k', source.start, new RecordingMember());
    expect(source.state.starts).toBe(2);
  });

  it('different keys never share', async () => {
    const shared = new SharedSubscriptions();
    const one = controllableSource();
    const two = controllableSource();
    const a = new RecordingMember();
    const b = new RecordingMember();
    await shared.join('a', one.start, a);
    await shared.join('b', two.start, b);
    one.emit({ data: { who: 'a' } });
    await tick();
    expect(a.events).toHaveLength(1);
    expect(b.events).toHaveLength(0);
    expect(shared.streamCount).toBe(2);
  });

  it('a subscription that cannot start gives every waiting member its result, and is not kept', async () => {
    const shared = new SharedSubscriptions();
    let starts = 0;
    const refused: ExecutionResult = { errors: [] };
    const start = async () => {
      starts++;
      await tick();
      return refused;
    };
    const outcomes = await Promise.all([
      shared.join('k', start, new RecordingMember()),
      shared.join('k', start, new RecordingMember()),
    ]);
    expect(starts).toBe(1);
    expect(outcomes).toEqual([
      { joined: false, result: refused },
      { joined: false, result: refused },
    ]);
    expect(shared.streamCount).toBe(0);
  });

  it('joinAs takes a slot per subscriber, starts the execution without one, and releases on leave or refusal', async () => {
    const shared = new SharedSubscriptions();
    let held = 0;
    const context = {
      owner: 'alice',
      acquireSubscription: () => {
        held++;
        return () => void held--;
      },
    };
    const source = controllableSource();
    const startedWith: unknown[] = [];
    const start = (sharedContext: typeof context) => {
      startedWith.push(sharedContext);
      return source.start();
    };
    const a = await shared.joinAs(context, 'k', start, new RecordingMember());
    const b = await shared.joinAs(context, 'k', start, new RecordingMember());
    expect(held).toBe(2);
    expect(startedWith).toHaveLength(1);
    expect(startedWith[0]).toMatchObject({ owner: 'alice', acquireSubscription: undefined, [SHARED_EXECUTION]: true });
    if (!a.joined || !b.joined) throw new Error('not joined');
    a.leave();
    a.leave();
    expect(held).toBe(1);
    b.leave();
    expect(held).toBe(0);

    const refused = await shared.joinAs(context, 'r', () => ({ errors: [] }), new RecordingMember());
    expect(refused.joined).toBe(false);
    await expect(
      shared.joinAs(
        context,
        't',
        () => {
          throw new Error('boom');
        },
        new RecordingMember(),
      ),
    ).rejects.toThrow('boom');
    expect(held).toBe(0);
    const full = {
      owner: 'alice',
      acquireSubscription: () => {
        throw new Error('RATE_LIMITED');
      },
    };
    await expect(shared.joinAs(full, 'k', () => source.start(), new RecordingMember())).rejects.toThrow('RATE_LIMITED');
    expect(shared.streamCount).toBe(0);
  });

  it('keys differ by owner, document, operation name and variables, not by variable order', () => {
    const base = { owner: 'alice', document: 'subscription { x }', operationName: null, variables: { id: '1', a: 2 } };
    const key = sharedSubscriptionKey(base);
    expect(sharedSubscriptionKey({ ...base, variables: { a: 2, id: '1' } })).toBe(key);
    const proto = (value: string) => JSON.parse(`{"__proto__":"${value}"}`) as Record<string, unknown>;
    expect(sharedSubscriptionKey({ ...base, variables: proto('A') })).not.toBe(
      sharedSubscriptionKey({ ...base, variables: proto('B') }),
    );
    for (const other of [
      { owner: 'bob' },
      { document: 'subscription { y }' },
      { operationName: 'Op' },
      { variables: { id: '2', a: 2 } },
    ]) {
      expect(sharedSubscriptionKey({ ...base, ...other })).not.toBe(key);
    }
  });
});

describe('shared subscriptions over graphql-ws', () => {
  const KEYS = 'alice:alice-key-0001,bob:bob-key-000002';
  const ALICE = { authorization: 'Bearer alice-key-0001' };
  const BOB = { authorization: 'Bearer bob-key-000002' };
  let upstream: TestUpstream;
  let g: Gateway;
  const cleanups: (() => unknown)[] = [];
  beforeAll(async () => {
    upstream = await startTestUpstream({ apiKey: 'upstream-key' });
    g = await startTestGateway({
      env: {
        CLAID_API_KEY: 'upstream-key',
        CLAID_API_URL: upstream.url,
        POLL_INTERVAL_MS: '50',
        AUTH_MODE: 'apikey',
        GATEWAY_API_KEYS: KEYS,
      },
    });
    cleanups.push(
      () => upstream.close(),
      () => g.stop(),
    );
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const submit = async (headers: Record<string, string>, prompt: string) => {
    const res = await gql(
      g,
      SUBMIT,
      { input: { input: 'https://images.example.com/room.jpg', options: { prompt } } },
      headers,
    );
    expect(res.errors).toBeUndefined();
    return res.data!.submitAiEdit.job as { id: string; upstreamId: number };
  };

  it('30 subscribers of one caller on one job share one execution; each sees the whole walk; callers never share', async () => {
    const job = await submit(ALICE, 'add a duck');
    const sockets = [wsClient(g, ALICE), wsClient(g, ALICE), wsClient(g, ALICE)];
    cleanups.push(...sockets.map((s) => () => s.dispose()));
    const subs = Array.from({ length: 30 }, (_, i) => collect(sockets[i % 3]!, UPDATED, { id: job.id }));
    await expect.poll(() => subs.every((s) => s.events.length > 0), { timeout: 5_000 }).toBe(true);
    expect(g.internals.sharedSubscriptions.webSocket.streamCount).toBe(1);
    expect(g.internals.sharedSubscriptions.webSocket.memberCount).toBe(30);

    // Bob sends the identical document and variables: he gets NOT_FOUND, not Alice's stream.
    const bob = wsClient(g, BOB);
    cleanups.push(() => bob.dispose());
    const bobs = await collect(bob, UPDATED, { id: job.id }).done;
    const bobError = ((bobs.error as { extensions?: unknown }[] | undefined) ?? bobs.events[0]?.errors)?.[0];
    expect(bobError).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
    expect(bobs.events.every((e) => !e.data?.aiEditJobUpdated)).toBe(true);
    expect(g.internals.sharedSubscriptions.webSocket.memberCount).toBe(30);

    // A different selection of the same job is a different execution.
    const other = collect(sockets[0]!, `subscription ($id: ID!) { aiEditJobUpdated(id: $id) { id status } }`, {
      id: job.id,
    });
    await expect.poll(() => other.events.length, { timeout: 5_000 }).toBe(1);
    expect(g.internals.sharedSubscriptions.webSocket.streamCount).toBe(2);

    upstream.setTask(job.upstreamId, { status: 'PROCESSING' });
    await expect
      .poll(() => subs.every((s) => s.events.some((e) => e.data?.aiEditJobUpdated?.status === 'PROCESSING')), {
        timeout: 5_000,
      })
      .toBe(true);
    upstream.setTask(job.upstreamId, { status: 'DONE', result: claidResult() });
    const outcomes = await Promise.all(subs.map((s) => s.done));
    for (const outcome of outcomes) {
      expect(outcome.error).toBeUndefined();
      expect(outcome.events.map((e) => e.data!.aiEditJobUpdated.status)).toEqual(['ACCEPTED', 'PROCESSING', 'DONE']);
      expect(outcome.events.at(-1)!.data!.aiEditJobUpdated.result.outputObjects[0].tmpUrl).toMatch(/^http/);
    }
    await other.done;
    await expect.poll(() => g.internals.sharedSubscriptions.webSocket.streamCount, { timeout: 5_000 }).toBe(0);
  });

  it('a subscriber that joins late gets the current state first; one that leaves does not stop the others', async () => {
    const job = await submit(ALICE, 'add a goose');
    const socket = wsClient(g, ALICE);
    cleanups.push(() => socket.dispose());
    const first = collect(socket, UPDATED, { id: job.id });
    await expect.poll(() => first.events.length, { timeout: 5_000 }).toBe(1);
    upstream.setTask(job.upstreamId, { status: 'PROCESSING' });
    await expect.poll(() => first.events.length, { timeout: 5_000 }).toBe(2);

    const leaver = wsClient(g, ALICE);
    const leaving = collect(leaver, UPDATED, { id: job.id });
    const late = collect(socket, UPDATED, { id: job.id });
    await expect.poll(() => late.events.length + leaving.events.length, { timeout: 5_000 }).toBe(2);
    expect(late.events[0]!.data!.aiEditJobUpdated.status).toBe('PROCESSING');
    expect(g.internals.sharedSubscriptions.webSocket.memberCount).toBe(3);
    await leaver.dispose();
    await expect.poll(() => g.internals.sharedSubscriptions.webSocket.memberCount, { timeout: 5_000 }).toBe(2);

    upstream.setTask(job.upstreamId, { status: 'DONE', result: claidResult() });
    expect((await late.done).events.map((e) => e.data!.aiEditJobUpdated.status)).toEqual(['PROCESSING', 'DONE']);
    expect((await first.done).events.map((e) => e.data!.aiEditJobUpdated.status)).toEqual([
      'ACCEPTED',
      'PROCESSING',
      'DONE',
    ]);
  });

  it('a subscription to a stale job gets its stored state at once, without waiting for the upstream read', async () => {
    const job = await submit(ALICE, 'add a heron');
    await new Promise((resolve) => setTimeout(resolve, 120)); // older than POLL_INTERVAL_MS=50: stale
    upstream.setTask(job.upstreamId, { status: 'PROCESSING' });
    let releaseReads!: () => void;
    const readsHeld = new Promise<void>((resolve) => (releaseReads = resolve));
    upstream.setDefault(async (request) => {
      if (request.method === 'GET') await readsHeld;
      return upstream.fakeClaid(request);
    });
    try {
      const socket = wsClient(g, ALICE);
      cleanups.push(() => socket.dispose());
      const sub = collect(socket, UPDATED, { id: job.id });
      await expect.poll(() => sub.events.length, { timeout: 2_000 }).toBe(1);
      expect(sub.events[0]!.data!.aiEditJobUpdated.status).toBe('ACCEPTED');
      releaseReads();
      await expect.poll(() => sub.events.at(-1)?.data?.aiEditJobUpdated?.status, { timeout: 5_000 }).toBe('PROCESSING');
      upstream.setTask(job.upstreamId, { status: 'DONE', result: claidResult() });
      expect((await sub.done).events.map((e) => e.data!.aiEditJobUpdated.status)).toEqual([
        'ACCEPTED',
        'PROCESSING',
        'DONE',
      ]);
    } finally {
      releaseReads();
      upstream.setDefault(null);
    }
  });

  it('SSE subscribers of one caller share one execution too, each gets the whole walk and the same bytes; slots are per subscriber', async () => {
    const job = await submit(ALICE, 'add a swan');
    const streams = Array.from({ length: 8 }, () => collectSse(g, UPDATED, { id: job.id }, ALICE));
    await expect.poll(() => g.internals.sharedSubscriptions.http.memberCount, { timeout: 5_000 }).toBe(8);
    expect(g.internals.sharedSubscriptions.http.streamCount).toBe(1);
    // Bob's identical request is NOT_FOUND and does not join Alice's stream.
    const bob = await collectSse(g, UPDATED, { id: job.id }, BOB);
    expect(bob.events[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    expect(g.internals.sharedSubscriptions.http.memberCount).toBe(8);

    upstream.setTask(job.upstreamId, { status: 'DONE', result: claidResult() });
    const outcomes = await Promise.all(streams);
    for (const outcome of outcomes) {
      expect(outcome.completed).toBe(true);
      expect(outcome.events.map((e) => e.data!.aiEditJobUpdated.status)).toEqual(['ACCEPTED', 'DONE']);
    }
    expect(new Set(outcomes.map((o) => JSON.stringify(o.events))).size).toBe(1);
    expect(g.internals.sharedSubscriptions.http.streamCount).toBe(0);
  });

  it('a final event and the completions it brings leave each socket in a few writes, not one per subscriber', async () => {
    const job = await submit(ALICE, 'add a stork');
    const socket = wsClient(g, ALICE);
    cleanups.push(() => socket.dispose());
    const subs = Array.from({ length: 50 }, () => collect(socket, UPDATED, { id: job.id }));
    await expect.poll(() => subs.every((s) => s.events.length === 1), { timeout: 5_000 }).toBe(true);

    // Every write the gateway's side of a socket hands to the kernel (net.Socket's one path to write and writev).
    const port = Number(new URL(g.url).port);
    const proto = Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
    const original = proto._writeGeneric;
    let writes = 0;
    proto._writeGeneric = function (this: Socket, ...args: unknown[]) {
      if (this.localPort === port) writes++;
      return original.apply(this, args);
    };
    try {
      upstream.setTask(job.upstreamId, { status: 'DONE', result: claidResult() });
      const outcomes = await Promise.all(subs.map((s) => s.done));
      for (const outcome of outcomes) {
        expect(outcome.error).toBeUndefined();
        expect(outcome.events.map((e) => e.data!.aiEditJobUpdated.status)).toEqual(['ACCEPTED', 'DONE']);
      }
    } finally {
      proto._writeGeneric = original;
    }
    // 50 `next` frames and 50 `complete` messages: one writev for the frames, one for the completions, give or take
    // a write that started before the rest was ready; one per message would be 100.
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(6);
  });

  it('a subscription with bad variables gets its own error; the socket and its other subscriptions carry on', async () => {
    const job = await submit(ALICE, 'add a crane');
    const socket = wsClient(g, ALICE);
    cleanups.push(() => socket.dispose());
    const good = collect(socket, UPDATED, { id: job.id });
    await expect.poll(() => good.events.length, { timeout: 5_000 }).toBe(1);
    const bad = await collect(socket, UPDATED, { id: { not: 'an id' } }).done;
    const badError = ((bad.error as { message?: string; extensions?: Record<string, unknown> }[] | undefined) ??
      bad.events[0]?.errors)?.[0];
    expect(badError?.message).toMatch(/\$id|cannot represent/);
    expect(badError?.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
    // The good subscription on the same socket still gets its change.
    upstream.setTask(job.upstreamId, { status: 'DONE', result: claidResult() });
    const outcome = await good.done;
    expect(outcome.error).toBeUndefined();
    expect(outcome.events.map((e) => e.data!.aiEditJobUpdated.status)).toEqual(['ACCEPTED', 'DONE']);

    const sse = await collectSse(g, UPDATED, { id: { not: 'an id' } }, ALICE);
    expect(sse.events[0]?.errors?.[0]?.message).toMatch(/\$id|cannot represent/);
    expect(sse.events[0]?.errors?.[0]?.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
  });
});
