import { LatestPerKeyQueue } from './latest-per-key-queue.js';
import { once } from './once.js';

// An async iterator fed by push() whose unread values wait in a LatestPerKeyQueue: the newest per key. (A Repeater
// buffer cannot do this: Repeater hands its buffer promises, whose values it cannot key.)

export class LatestPerKeyChannel<T> implements AsyncIterableIterator<T> {
  readonly #queue: LatestPerKeyQueue<T>;
  #waiting: { resolve: (step: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  #ended: { error?: unknown } | undefined;
  readonly #onReturn: () => void;

  /** `onReturn` runs once, when the reader returns (leaves) or the channel ends. */
  constructor(keyOf: (value: T) => unknown, onReturn: () => void = () => {}) {
    this.#queue = new LatestPerKeyQueue(keyOf);
    this.#onReturn = once(onReturn);
  }

  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** Hands `value` to a waiting reader, or queues it in place of an unread older value of its key. */
  push(value: T): void {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve({ value, done: false });
      return;
    }
    this.#queue.add(value);
  }

  /** No more values: the reader gets what is queued, then the end (or `error`). */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = error === undefined ? {} : { error };
    this.#onReturn();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) this.#settle(waiting);
  }

  next(): Promise<IteratorResult<T>> {
    if (!this.#queue.empty) return Promise.resolve({ value: this.#queue.shift() as T, done: false });
    return new Promise((resolve, reject) => {
      if (this.#ended) this.#settle({ resolve, reject });
      else this.#waiting = { resolve, reject };
    });
  }

  /** The reader leaves: nothing more is read, and `onReturn` runs. */
  return(_value?: unknown): Promise<IteratorResult<T>> {
    this.#queue.clear();
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #settle(reader: { resolve: (step: IteratorResult<T>) => void; reject: (error: unknown) => void }): void {
    const error = this.#ended?.error;
    if (error === undefined) {
      reader.resolve({ value: undefined, done: true });
      return;
    }
    // The error once; after it, the end.
    this.#ended = {};
    reader.reject(error);
  }
}
