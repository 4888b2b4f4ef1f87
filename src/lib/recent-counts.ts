/**
 * Counts per key, kept for the `limit` keys counted most recently: a per-job figure for diagnostics that cannot
 * grow without bound however many jobs come and go.
 */
export class RecentCounts<K> {
  private readonly counts = new Map<K, number>();

  constructor(private readonly limit: number) {}

  add(key: K): void {
    const count = (this.counts.get(key) ?? 0) + 1;
    // Re-inserting moves the key to the end of the Map's order, so the first key is always the stalest.
    this.counts.delete(key);
    this.counts.set(key, count);
    if (this.counts.size > this.limit) {
      const stalest = this.counts.keys().next().value;
      if (stalest !== undefined) this.counts.delete(stalest);
    }
  }

  /** A copy, oldest first. */
  snapshot(): Map<K, number> {
    return new Map(this.counts);
  }
}
