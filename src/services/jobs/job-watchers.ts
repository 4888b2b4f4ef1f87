import { once } from '../../lib/once.js';
import type { PollCoordinator } from '../scale-out/poll-coordinator.js';

/**
 * Who watches which job: this instance's subscribers, counted, and (through the coordinator) other instances'. A
 * job counts as watched when anyone watches it anywhere; `onChange` hears when this instance's first watcher of a
 * job arrives or its last one leaves.
 */
export class JobWatchers {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly onChange: (jobId: string) => void,
    private readonly coordinator: PollCoordinator | undefined,
  ) {}

  /** Registers one watcher of `jobId`; returns its release, which counts once however often it is called. */
  watch(jobId: string): () => void {
    const count = (this.counts.get(jobId) ?? 0) + 1;
    this.counts.set(jobId, count);
    if (count === 1) {
      this.coordinator?.setWatched(jobId, true);
      this.onChange(jobId);
    }
    return once(() => {
      const left = (this.counts.get(jobId) ?? 1) - 1;
      if (left > 0) {
        this.counts.set(jobId, left);
        return;
      }
      this.counts.delete(jobId);
      this.coordinator?.setWatched(jobId, false);
      this.onChange(jobId);
    });
  }

  isWatched(jobId: string): boolean {
    return this.counts.has(jobId) || (this.coordinator?.isWatchedElsewhere(jobId) ?? false);
  }

  /** Watchers here, all jobs together, and how many of `tracked` have at least one. */
  stats(tracked: ReadonlyMap<string, unknown>): { watched: number; watchers: number } {
    let watched = 0;
    let watchers = 0;
    for (const [id, count] of this.counts) {
      watchers += count;
      if (tracked.has(id)) watched++;
    }
    return { watched, watchers };
  }
}
