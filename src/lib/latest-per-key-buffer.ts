// A Repeater buffer (and queue) that keeps only the newest value per key, oldest change first: a slow reader of a
// stream about many things (the jobs of aiEditJobsUpdated) skips a thing's intermediate states, never a thing. One
// key for every value is a sliding buffer of one.

export class LatestPerKeyBuffer<T> {
  readonly #values = new Map<unknown, T>();

  constructor(private readonly keyOf: (value: T) => unknown) {}

  get empty(): boolean {
    return this.#values.size === 0;
  }

  /** Never: an add replaces, so pushes never wait. */
  get full(): boolean {
    return false;
  }

  get size(): number {
    return this.#values.size;
  }

  /** Queues `value`, dropping an unread older value of its key (the key moves to the back). */
  add(value: T): void {
    const key = this.keyOf(value);
    this.#values.delete(key);
    this.#values.set(key, value);
  }

  /** The value whose key changed longest ago; throws when empty (as Repeater's buffers do). */
  remove(): T {
    const first = this.#values.entries().next();
    if (first.done) throw new Error('the buffer is empty');
    const [key, value] = first.value;
    this.#values.delete(key);
    return value;
  }
}
