import type { GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';
import { LatestPerKeyQueue } from '../lib/latest-per-key-queue.js';
import type { SharedEvent, SharedSubscriptionMember } from './shared-subscriptions.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** What graphql-ws follows for a shared subscriber: an async iterator whose return() it calls to end it early. */
export type MemberStream = AsyncIterableIterator<never> & { return(): Promise<IteratorResult<never>> };

/** The TCP socket under a ws WebSocket (ws keeps it as `_socket`). */
type RawSocket = { cork(): void; uncork(): void };

const corked = new WeakSet<RawSocket>();

/**
 * Holds a socket's writes until this tick ends, so that a fan-out writing one frame to each of the socket's many
 * subscribers leaves in one writev instead of one syscall per frame (ws corks around each frame; corks nest). The
 * same for graphql-ws's own messages: a final event completes every subscriber of the job at once, and each
 * `complete` would otherwise be a syscall of its own.
 */
export function corkForThisTick(socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: RawSocket })._socket;
  if (!raw || corked.has(raw)) return;
  corked.add(raw);
  raw.cork();
  process.nextTick(() => {
    corked.delete(raw);
    raw.uncork();
  });
}

/**
 * One graphql-ws subscriber of a shared stream: writes `next` messages around the shared payload string straight to
 * its socket, bypassing graphql-ws's per-message JSON.stringify. It queues no more than one event per key
 * (SharedEvent.key: the job it is about): while a write is in flight, a newer event of a job replaces that job's
 * unsent one, so a slow socket skips to each job's newest state instead of buffering every change.
 */
export class SocketMember implements SharedSubscriptionMember {
  private readonly prefix: string;
  private writing = false;
  /**
   * Nothing is written before graphql-ws pulls this subscriber's stream: until then it may still drop the id (a
   * client `complete` while the subscription was starting), and a frame under that id could reach a new
   * subscription that reuses it.
   */
  private pulled = false;
  private readonly unsent = new LatestPerKeyQueue<SharedEvent>((event) => event.key);
  private finishing = false;
  private closed = false;
  private settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  private readonly ended: Promise<void>;

  constructor(
    private readonly socket: WebSocket,
    id: string,
  ) {
    this.prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
    this.ended = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // graphql-ws reports a failure by itself; nobody may be awaiting this one yet.
    this.ended.catch(() => undefined);
  }

  next(event: SharedEvent): void {
    if (this.closed) return;
    if (this.writing || !this.pulled) this.unsent.add(event);
    else this.write(event.json);
  }

  complete(): void {
    this.finishing = true;
    if (this.pulled && !this.writing && this.unsent.empty) this.finish();
  }

  fail(error: unknown): void {
    this.closed = true;
    this.settle?.reject(error);
  }

  /**
   * The stream graphql-ws follows for this subscriber: it yields nothing (events are written directly) and ends when
   * the shared stream has ended and the last event is written, or with `refusal(error)` when it failed; its return
   * (client `complete`, socket closed) leaves, even before graphql-ws has pulled it.
   *
   * A bare iterator rather than a Repeater: with 10,000 subscribers its per-subscriber promises, bound functions and
   * suspended executor were a large share of each one's memory, and of the CPU of completing them all at once.
   */
  stream(leave: () => void, refusal: (error: unknown) => GraphQLError): MemberStream {
    const stop = () => {
      this.closed = true;
      leave();
      this.finish();
    };
    // However it ends, even before graphql-ws has pulled the stream.
    void this.ended.then(leave, leave);
    let end: Promise<IteratorResult<never>> | undefined;
    const iterator: MemberStream = {
      next: () => {
        this.start();
        end ??= this.ended.then(
          () => DONE,
          (error: unknown) => Promise.reject(refusal(error)),
        );
        return end;
      },
      return: () => {
        stop();
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** graphql-ws follows the stream: write what came meanwhile (the newest per key), or end if it has ended. */
  private start(): void {
    if (this.pulled) return;
    this.pulled = true;
    if (this.closed) return;
    if (!this.unsent.empty) this.write(this.unsent.shift()!.json);
    else if (this.finishing) this.finish();
  }

  private write(json: string): void {
    if (this.socket.readyState !== this.socket.OPEN) {
      this.closed = true;
      return;
    }
    this.writing = true;
    corkForThisTick(this.socket);
    this.socket.send(`${this.prefix}${json}}`, (error) => {
      this.writing = false;
      if (error) this.closed = true;
      if (!this.unsent.empty && !this.closed) this.write(this.unsent.shift()!.json);
      else if (this.finishing) this.finish();
    });
  }

  private finish(): void {
    this.closed = true;
    this.settle?.resolve();
  }
}
