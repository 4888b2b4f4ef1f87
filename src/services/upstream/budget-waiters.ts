import { UpstreamError } from '../../domain/errors.js';
import { MinHeap } from '../../lib/min-heap.js';
import type { BudgetPriority } from './budget-types.js';

// The callers waiting for an upstream token, most urgent first: by class (submit, watched, background), then by how
// long each has waited, then by arrival.

export type RequestKind = 'submit' | 'read';

export interface Waiter {
  kind: RequestKind;
  priority: BudgetPriority;
  since: number;
  seq: number;
  settled: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
  cleanup: () => void;
}

const PRIORITY_RANK: Record<BudgetPriority, number> = { submit: 0, watched: 1, background: 2 };

export const budgetError = (message: string): UpstreamError =>
  new UpstreamError('UPSTREAM_UNAVAILABLE', message, {
    httpStatus: null,
    errorCode: null,
    errorType: null,
    errorMessage: null,
    requestId: null,
  });

export class BudgetWaiters {
  private readonly queue = new MinHeap<Waiter>(
    (a, b) => (PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.since - b.since || a.seq - b.seq) < 0,
  );
  private readonly queuedByPriority: Record<BudgetPriority, number> = { submit: 0, watched: 0, background: 0 };
  private seq = 0;

  /** Queues a caller; the promise settles when it is granted, gives up (`signal`), or the queue is closed. */
  wait(kind: RequestKind, priority: BudgetPriority, since: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(budgetError('Gave up waiting for the upstream budget.'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => this.settle(waiter, budgetError('Gave up waiting for the upstream budget.'));
      const waiter: Waiter = {
        kind,
        priority,
        since,
        seq: this.seq++,
        settled: false,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      this.queuedByPriority[priority]++;
    });
  }

  /** The next waiter still waiting, dropping those that gave up. */
  peek(): Waiter | undefined {
    while (this.queue.peek()?.settled) this.queue.pop();
    return this.queue.peek();
  }

  /** Grants the most urgent waiter its token; returns it, or undefined when nobody waits. */
  grant(): Waiter | undefined {
    const waiter = this.peek();
    if (!waiter) return undefined;
    this.queue.pop();
    this.settle(waiter);
    return waiter;
  }

  /** Rejects every waiter with `error`. */
  rejectAll(error: Error): void {
    for (const waiter of this.queue.drain()) this.settle(waiter, error);
  }

  counts(): Record<BudgetPriority, number> {
    return { ...this.queuedByPriority };
  }

  private settle(waiter: Waiter, error?: Error): void {
    if (waiter.settled) return;
    waiter.settled = true;
    waiter.cleanup();
    this.queuedByPriority[waiter.priority]--;
    if (error) waiter.reject(error);
    else waiter.resolve();
  }
}
