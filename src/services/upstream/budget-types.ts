// The words the upstream budget's parts and its users share (rate-budget.ts puts the parts together).

export type BudgetPriority = 'submit' | 'watched' | 'background';

export interface AcquireOptions {
  /** Default: 'submit' for a submit; for a read the surrounding withPriority() scope, else 'watched'. */
  priority?: BudgetPriority;
  /** Epoch ms the caller has been waiting since (within a class the smallest goes first); default: now. */
  since?: number;
  /** Gives up the place in the queue: acquire() rejects with an UpstreamError. */
  signal?: AbortSignal;
}

/** Lets a caller order the upstream calls that a piece of work makes, without acquiring tokens itself. */
export interface PriorityScope {
  withPriority<T>(options: AcquireOptions, fn: () => Promise<T>): Promise<T>;
}

/**
 * What several instances share beyond the grant log (scale-out/redis-budget.ts): the spacing between grants
 * and a pause after a 429, so that one instance's 429 stops them all.
 */
export interface SharedBudgetGate {
  /** Takes the next shared grant slot: 0 when taken, else how long (ms) to wait before asking again. */
  reserve(spacingMs: number): Promise<number>;
  /** Pauses every instance's grants for `ms`. */
  pause(ms: number): Promise<void>;
}
