import { randomUUID } from 'node:crypto';

// What the poller asks before it reads a job upstream, and the one-process answer (always yes).

export type LeaseClaim =
  | { held: true }
  /** Another instance holds the lease; ask again after `retryInMs` (when it would expire unless renewed). */
  | { held: false; retryInMs: number };

export interface PollCoordinator {
  /** This process's id in leases and watch sets (also in /ready and the start-up log). */
  readonly instanceId: string;
  /** Takes or keeps the job's lease: true when this instance may read the job upstream now. */
  claim(jobId: string): Promise<LeaseClaim>;
  /** Gives the lease up (the job is final, or this instance stops). Only this instance's own lease is removed. */
  release(jobId: string): Promise<void>;
  /** Shares this instance's interest: while true, the job is polled at the watched cadence by whoever holds it. */
  setWatched(jobId: string, watched: boolean): void;
  /** A job this instance submitted: the ones it keeps reading while Redis is away. Forgotten on release(). */
  submittedHere(jobId: string): void;
  /** Whether subscribers on other instances watch a job this instance holds. */
  isWatchedElsewhere(jobId: string): boolean;
  /** Called when isWatchedElsewhere(jobId) changes. */
  onWatchChange(listener: (jobId: string) => void): void;
  start(): void;
  /** Releases every lease and watch this instance holds. */
  stop(): Promise<void>;
}

/** One instance: it holds every lease, and nobody else watches. */
export class LocalPollCoordinator implements PollCoordinator {
  constructor(readonly instanceId: string = randomUUID()) {}
  claim(): Promise<LeaseClaim> {
    return Promise.resolve({ held: true });
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
  setWatched(): void {}
  submittedHere(): void {}
  isWatchedElsewhere(): boolean {
    return false;
  }
  onWatchChange(): void {}
  start(): void {}
  stop(): Promise<void> {
    return Promise.resolve();
  }
}
