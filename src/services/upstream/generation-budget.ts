import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../lib/logger.js';
import type { LimiterFactory, SharedBudgetGate } from './budget-types.js';
import { budgetError } from './budget-waiters.js';
import { LimiterWindows } from './budget-windows.js';

// Claid's generation limit (claid-facts.md: 1 AI Edit generation a second, 60 a minute), on top of the request
// budget: a submit costs one generation here and one request token there. Its windows are shared by every instance
// through the same limiter factory as the request budget (Redis), and grants are spaced 1/perSecond apart (a
// little wider, as the request budget's shared gate is), so that an upstream counting in clock-aligned seconds never
// sees two in one second.

export interface GenerationBudgetOptions {
  perSecond: number;
  perMinute: number;
  logger: Logger;
  limiterFactory?: LimiterFactory | undefined;
  /** Spacing shared across instances; without one, this process spaces its own. */
  shared?: SharedBudgetGate | undefined;
  /** The request budget: a submit is granted at once only when it, too, would grant at once. */
  requests?: { canGrantNow(): Promise<boolean> } | undefined;
  key?: string;
}

/**
 * Local spacing is this much wider than 1/perSecond, as the shared gate's is: a request held up between its grant and
 * the upstream (a busy event loop, the network) must not land in the same upstream second as the next one.
 */
const SPACING_MARGIN = 1.1;

export class GenerationBudget {
  readonly #windows: LimiterWindows;
  readonly #spacingMs: number;
  readonly #shared: SharedBudgetGate | undefined;
  readonly #requests: GenerationBudgetOptions['requests'];
  #lastGrantAt = Number.NEGATIVE_INFINITY;
  /** One take at a time in this process, so that two callers never both pass the spacing check. */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(options: GenerationBudgetOptions) {
    if (!(options.perSecond > 0) || !(options.perMinute > 0))
      throw new RangeError('perSecond and perMinute must be positive');
    const logger = options.logger.child({ component: 'generation-budget' });
    this.#windows = new LimiterWindows(
      options.perSecond,
      options.perMinute,
      options.key ?? 'claid',
      logger,
      options.limiterFactory,
      'generation-budget',
    );
    this.#spacingMs = 1000 / options.perSecond;
    this.#shared = options.shared;
    this.#requests = options.requests;
  }

  /** Takes a generation if one (and a request token) can be had without waiting; false: the submit is queued. */
  async tryTakeNow(): Promise<boolean> {
    if (this.#requests && !(await this.#requests.canGrantNow())) return false;
    return (await this.#take()) === 0;
  }

  /** Waits for a generation; rejects when `signal` aborts. It holds nothing else: nothing to close. */
  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw budgetError('Gave up waiting for the generation budget.');
      const waitMs = await this.#take();
      if (waitMs === 0) return;
      await sleep(waitMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Returns a generation taken but not used (nothing was waiting after all). */
  giveBack(): Promise<void> {
    return this.#windows.giveBack();
  }

  /** 0 when a generation was taken, else how long (ms) to wait before asking again. */
  #take(): Promise<number> {
    const taking = this.#turn.then(() => this.#takeOnce());
    this.#turn = taking.catch(() => undefined);
    return taking;
  }

  async #takeOnce(): Promise<number> {
    const spacingLeft = this.#lastGrantAt + this.#spacingMs * SPACING_MARGIN - Date.now();
    if (spacingLeft > 0) return spacingLeft;
    const refusedForMs = await this.#windows.take();
    if (refusedForMs > 0) return refusedForMs;
    if (this.#shared) {
      const waitMs = await this.#shared.reserve(this.#spacingMs);
      if (waitMs > 0) {
        await this.#windows.giveBack();
        return waitMs;
      }
    }
    this.#lastGrantAt = Date.now();
    return 0;
  }
}
