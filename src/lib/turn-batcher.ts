/**
 * Lookups by key made in one turn of the event loop, answered together: one call of `load` with every key asked
 * for (each once, at most `maxKeys` a call), made once the turn's callbacks and microtasks have run (setImmediate).
 * DataLoader batches the loads of one request; this batches across requests and streams, such as a burst of
 * subscriptions that each load their job as they start.
 */
export class TurnBatcher<V> {
  private pending: Waiter<V>[] = [];

  constructor(
    /** The values of `keys` that exist; a key left out is unknown (null). */
    private readonly load: (keys: string[]) => Promise<Map<string, V>>,
    private readonly maxKeys = 1000,
  ) {}

  /** One entry per key, in order; null where unknown. Rejects with the error of the load that carried its keys. */
  get(keys: readonly string[]): Promise<(V | null)[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({ keys, resolve, reject });
    });
  }

  private flush(): void {
    const waiters = this.pending;
    this.pending = [];
    const keys = [...new Set(waiters.flatMap((w) => w.keys))];
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += this.maxKeys) chunks.push(keys.slice(i, i + this.maxKeys));
    const loaded = chunks.map((chunk) => this.load(chunk));
    const chunkOf = new Map<string, number>();
    chunks.forEach((chunk, i) => {
      for (const key of chunk) chunkOf.set(key, i);
    });
    for (const waiter of waiters) {
      // Each waiter waits only for the loads that carry its keys, and fails with theirs alone.
      const mine = [...new Set(waiter.keys.map((key) => chunkOf.get(key)!))];
      Promise.all(mine.map((i) => loaded[i]!)).then((maps) => {
        const found = new Map<string, V>();
        for (const map of maps) for (const [key, value] of map) found.set(key, value);
        waiter.resolve(waiter.keys.map((key) => found.get(key) ?? null));
      }, waiter.reject);
    }
  }
}

interface Waiter<V> {
  keys: readonly string[];
  resolve: (values: (V | null)[]) => void;
  reject: (error: unknown) => void;
}
