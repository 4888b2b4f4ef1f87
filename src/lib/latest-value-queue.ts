/**
 * A one-slot queue for state updates: a slow consumer only ever gets the newest value, so nothing buffers without
 * bound while a subscriber cannot keep up. `push` replaces an undelivered value; `next` waits for one.
 */
export class LatestValueQueue<T> implements AsyncIterableIterator<T> {
  private pending: { value: T } | undefined;
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private closed = false;

  push(value: T): void {
    if (this.closed) return;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = undefined;
      resolve({ value, done: false });
    } else {
      this.pending = { value };
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.pending) {
      const { value } = this.pending;
      this.pending = undefined;
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** No more values: a value not yet delivered still is, then the queue ends. */
  finish(): void {
    if (this.pending) {
      this.closed = true;
      return;
    }
    this.close();
  }

  /** Ends the queue: a waiting consumer is released; an undelivered value is dropped. */
  close(): void {
    this.closed = true;
    this.pending = undefined;
    const resolve = this.waiter;
    this.waiter = undefined;
    resolve?.({ value: undefined, done: true });
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
