import type { GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';
import { LatestPerKeyQueue } from '../lib/latest-per-key-queue.js';
import type { SharedEvent, SharedSubscriptionMember } from './shared-subscriptions.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** ws sends a Buffer as binary unless told it is text. */
const TEXT = { binary: false };
const CLOSING_BRACE = 0x7d;
const encoded = new WeakMap<SharedEvent, Buffer>();

/** The event's JSON as UTF-8, encoded by the first member that writes it. */
function payloadBytes(event: SharedEvent): Buffer {
  let bytes = encoded.get(event);
  if (!bytes) encoded.set(event, (bytes = Buffer.from(event.json)));
  return bytes;
}

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
  private readonly prefixBytes: number;
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
    this.prefixBytes = Buffer.byteLength(this.prefix);
    this.ended = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // graphql-ws reports a failure by itself; nobody may be awaiting this one yet.
    this.ended.catch(() => undefined);
  }

  next(event: SharedEvent): void {
    if (this.closed) return;
    if (this.writing || !this.pulled) this.unsent.add(event);
    else this.write(event);
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
    if (!this.unsent.empty) this.write(this.unsent.shift()!);
    else if (this.finishing) this.finish();
  }

  private write(event: SharedEvent): void {
    if (this.socket.readyState !== this.socket.OPEN) {
      this.closed = true;
      return;
    }
    this.writing = true;
    corkForThisTick(this.socket);
    this.socket.send(this.frame(event), TEXT, (error) => {
      this.writing = false;
      if (error) this.closed = true;
      if (!this.unsent.empty && !this.closed) this.write(this.unsent.shift()!);
      else if (this.finishing) this.finish();
    });
  }

  /**
   * This subscriber's `next` message around the event's payload, as bytes: the payload is encoded once per event
   * (for every member), each frame is then one copy into a pooled buffer, and the socket writes buffers only. As a
   * string per member, each frame was flattened, encoded and left as garbage on the heap, every time.
   */
  private frame(event: SharedEvent): Buffer {
    const payload = payloadBytes(event);
    const frame = Buffer.allocUnsafe(this.prefixBytes + payload.length + 1);
    frame.write(this.prefix, 0, 'utf8');
    payload.copy(frame, this.prefixBytes);
    frame[frame.length - 1] = CLOSING_BRACE;
    return frame;
  }

  private finish(): void {
    this.closed = true;
    this.settle?.resolve();
  }
}
