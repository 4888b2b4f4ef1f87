import { UpstreamError } from '../../domain/errors.js';
import { MinHeap } from '../../lib/min-heap.js';
import type { BudgetPriority } from './budget-types.js';

// The callers waiting for an upstream token, most urgent first: by class (submit, watched, background), then by how
// long each has waited, then by arrival. Submits wait apart from reads: a submit also needs a generation, and while
// none is free the next token goes to the most urgent read instead.

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

const moreUrgent = (a: Waiter, b: Waiter): boolean =>
  (PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.since - b.since || a.seq - b.seq) < 0;

export class BudgetWaiters {
  private readonly submits = new MinHeap<Waiter>(moreUrgent);
  private readonly reads = new MinHeap<Waiter>(moreUrgent);
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
      (kind === 'submit' ? this.submits : this.reads).push(waiter);
      this.queuedByPriority[priority]++;
    });
  }

  /** The next waiter still waiting (a submit before any read), dropping those that gave up. */
  peek(): Waiter | undefined {
    return this.peekSubmit() ?? this.peekRead();
  }

  peekSubmit(): Waiter | undefined {
    return live(this.submits);
  }

  peekRead(): Waiter | undefined {
    return live(this.reads);
  }

  /**
   * Grants the most urgent waiter its token (a read when `submitAllowed` is false: no generation is free); returns
   * it, or undefined when nobody such waits.
   */
  grant(submitAllowed = true): Waiter | undefined {
    const heap = submitAllowed && this.peekSubmit() ? this.submits : this.reads;
    const waiter = live(heap);
    if (!waiter) return undefined;
    heap.pop();
    this.settle(waiter);
    return waiter;
  }

  /** Rejects every waiter with `error`. */
  rejectAll(error: Error): void {
    for (const waiter of [...this.submits.drain(), ...this.reads.drain()]) this.settle(waiter, error);
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

function live(heap: MinHeap<Waiter>): Waiter | undefined {
  while (heap.peek()?.settled) heap.pop();
  return heap.peek();
}
