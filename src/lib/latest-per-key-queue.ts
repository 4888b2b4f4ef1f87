// A queue that keeps only the newest value per key, oldest change first: a slow reader of a stream about many
// things (the jobs of aiEditJobsUpdated) skips a thing's intermediate states, never a thing. One key for every
// value makes it a sliding buffer of one.

export class LatestPerKeyQueue<T> {
  readonly #values = new Map<unknown, T>();

  constructor(private readonly keyOf: (value: T) => unknown) {}

  get empty(): boolean {
    return this.#values.size === 0;
  }

  /** Queues `value` in place of an unread older value of its key (the key moves to the back). */
  add(value: T): void {
    const key = this.keyOf(value);
    this.#values.delete(key);
    this.#values.set(key, value);
  }

  /** The value whose key changed longest ago, or undefined when empty. */
  shift(): T | undefined {
    const first = this.#values.entries().next();
    if (first.done) return undefined;
    this.#values.delete(first.value[0]);
    return first.value[1];
  }

  clear(): void {
    this.#values.clear();
  }
}
