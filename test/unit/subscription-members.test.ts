import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { SocketMember } from '../../src/transport/graphql-ws-member.js';
import type { SharedEvent } from '../../src/transport/shared-subscriptions.js';
import { StreamMember } from '../../src/transport/use-shared-subscriptions-sse.js';

// The two kinds of member a shared subscription hands its events to. A slow consumer only ever gets the newest
// event, the last event still arrives after the stream completed, and leaving happens however the consumer ends,
// even when it ends a stream it never pulled (graphql-ws does, for a client `complete` while starting).

const event = (n: number): SharedEvent => ({ result: { data: { n } }, json: `{"data":{"n":${n}}}`, key: undefined });
/** An event about job `id`, as aiEditJobsUpdated sends them (its key is the job's id). */
const jobEvent = (id: string, n: number): SharedEvent => {
  const result = { data: { aiEditJobsUpdated: { id, n } } };
  return { result, json: JSON.stringify(result), key: id };
};
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('StreamMember (SSE)', () => {
  it('gives a slow reader the newest event only, before and after it first pulls, then the final one', async () => {
    const member = new StreamMember();
    let left = 0;
    const stream = member.stream(() => left++);
    member.next(event(1));
    member.next(event(2));
    expect(await stream.next()).toEqual({ value: { data: { n: 2 } }, done: false });
    member.next(event(3));
    member.next(event(4));
    member.next(event(5));
    member.complete();
    expect(await stream.next()).toEqual({ value: { data: { n: 5 } }, done: false });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(left).toBeGreaterThanOrEqual(1);
  });

  it('keeps the newest event of each job for a slow reader, never dropping a job', async () => {
    const member = new StreamMember();
    const stream = member.stream(() => undefined);
    member.next(jobEvent('a', 1));
    member.next(jobEvent('b', 1));
    member.next(jobEvent('a', 2));
    const first = await stream.next();
    member.next(jobEvent('c', 1));
    member.next(jobEvent('b', 2));
    const rest = [await stream.next(), await stream.next(), await stream.next()];
    const seen = [first, ...rest].map((step) => (step.value as { data: { aiEditJobsUpdated: unknown } }).data);
    // a's first state is skipped (a moved behind b when it changed again); every job's newest state arrives.
    expect(seen.map((data) => data.aiEditJobsUpdated)).toEqual([
      { id: 'b', n: 1 },
      { id: 'a', n: 2 },
      { id: 'c', n: 1 },
      { id: 'b', n: 2 },
    ]);
  });

  it('ends with the stream’s error when it fails', async () => {
    const member = new StreamMember();
    const stream = member.stream(() => undefined);
    const pending = stream.next();
    member.fail(new Error('source failed'));
    await expect(pending).rejects.toThrow('source failed');
  });

  it('leaves on return, while waiting for an event and when never pulled', async () => {
    const waiting = new StreamMember();
    let leftWaiting = 0;
    const stream = waiting.stream(() => leftWaiting++);
    const pending = stream.next();
    await tick();
    await stream.return(undefined);
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(leftWaiting).toBeGreaterThanOrEqual(1);

    let leftUnpulled = 0;
    await new StreamMember().stream(() => leftUnpulled++).return(undefined);
    expect(leftUnpulled).toBe(1);
  });
});

/** A socket whose writes complete only when `flush` is called: a slow client. */
function slowSocket() {
  const sent: string[] = [];
  const callbacks: ((error?: Error) => void)[] = [];
  const socket = {
    OPEN: 1,
    readyState: 1,
    // ws's send(data, options?, callback): members send text frames as bytes.
    send(data: string | Buffer, options: unknown, callback?: (error?: Error) => void) {
      sent.push(String(data));
      callbacks.push((callback ?? options) as (error?: Error) => void);
    },
  };
  return {
    socket: socket as unknown as WebSocket,
    sent,
    flush: () => {
      for (const callback of callbacks.splice(0)) callback();
    },
  };
}

const refusal = (error: unknown) => new GraphQLError(`refused: ${(error as Error).message}`);

describe('SocketMember (graphql-ws)', () => {
  it('writes nothing before it is pulled, then only the newest event while a write is in flight', async () => {
    const { socket, sent, flush } = slowSocket();
    const member = new SocketMember(socket, 'op-1');
    const stream = member.stream(() => undefined, refusal);
    member.next(event(1));
    member.next(event(2));
    expect(sent).toEqual([]);
    const done = stream.next();
    expect(sent).toEqual(['{"id":"op-1","type":"next","payload":{"data":{"n":2}}}']);
    member.next(event(3));
    member.next(event(4));
    member.complete();
    flush();
    expect(sent.at(-1)).toBe('{"id":"op-1","type":"next","payload":{"data":{"n":4}}}');
    expect(sent).toHaveLength(2);
    flush();
    expect(await done).toEqual({ value: undefined, done: true });
  });

  it('frames ids and payloads outside ASCII byte for byte, the same event for every member', async () => {
    const { socket, sent, flush } = slowSocket();
    const members = ['ü-1', 'op-🦆'].map((id) => new SocketMember(socket, id));
    for (const member of members) void member.stream(() => undefined, refusal).next();
    const result = { data: { aiEditJobUpdated: { id: 'j', prompt: 'add a duck 🦆 to the café' } } };
    const shared: SharedEvent = { result, json: JSON.stringify(result), key: 'j' };
    for (const member of members) member.next(shared);
    flush();
    expect(sent).toEqual([
      `{"id":"ü-1","type":"next","payload":${shared.json}}`,
      `{"id":"op-🦆","type":"next","payload":${shared.json}}`,
    ]);
    expect(sent.map((frame) => JSON.parse(frame).payload)).toEqual([result, result]);
  });

  it('queues the newest event of each job while a write is in flight, never dropping a job', async () => {
    const { socket, sent, flush } = slowSocket();
    const member = new SocketMember(socket, 'op-4');
    void member.stream(() => undefined, refusal).next();
    member.next(jobEvent('a', 1));
    member.next(jobEvent('b', 1));
    member.next(jobEvent('c', 1));
    member.next(jobEvent('b', 2));
    for (let i = 0; i < 4; i++) flush();
    const payloads = sent.map((frame) => JSON.parse(frame).payload.data.aiEditJobsUpdated);
    expect(payloads).toEqual([
      { id: 'a', n: 1 },
      { id: 'c', n: 1 },
      { id: 'b', n: 2 },
    ]);
  });

  it('ends with the refusal of the stream’s error, and leaves', async () => {
    const { socket } = slowSocket();
    const member = new SocketMember(socket, 'op-2');
    let left = 0;
    const stream = member.stream(() => left++, refusal);
    const pending = stream.next();
    member.fail(new Error('source failed'));
    await expect(pending).rejects.toThrow('refused: source failed');
    expect(left).toBeGreaterThanOrEqual(1);
  });

  it('leaves on return, also when graphql-ws returns a stream it never pulled', async () => {
    const { socket, sent } = slowSocket();
    const member = new SocketMember(socket, 'op-3');
    let left = 0;
    const stream = member.stream(() => left++, refusal);
    member.next(event(1));
    await stream.return(undefined);
    await tick();
    expect(left).toBeGreaterThanOrEqual(1);
    member.next(event(2));
    expect(sent).toEqual([]);
  });
});
