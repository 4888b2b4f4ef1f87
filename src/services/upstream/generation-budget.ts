import type { Logger } from '../../lib/logger.js';
import type { SharedBudgetGate } from './budget-types.js';
import { type GrantWindows, type GrantWindowsFactory, memoryGrantWindows } from './grant-log.js';

// Claid's generation limit (claid-facts.md: 1 AI Edit generation a second, 60 a minute), on top of the request
// budget: a submit costs one generation here and one request token there. The request budget takes the generation
// at the moment it grants a submit its token (rate-budget.ts), so that a generation is spent exactly when its request
// leaves: taken earlier, a wait for the token in between would let two submits spaced a second apart at the grant
// land in one second upstream (the 429s the arrivals benchmark saw at 50 jobs a minute). Its windows are a grant log
// (grant-log.ts) shared by every instance through Redis, and grants are spaced 1/perSecond apart (a little wider, as
// the request budget's shared gate is), so that an upstream counting in clock-aligned seconds never sees two in one.

export interface GenerationBudgetOptions {
  perSecond: number;
  perMinute: number;
  logger: Logger;
  /** The windows' store (grant-log.ts): memory by default, Redis to share them. */
  grantWindows?: GrantWindowsFactory | undefined;
  /** Spacing shared across instances; without one, this process spaces its own. */
  shared?: SharedBudgetGate | undefined;
  key?: string;
}

/** What the request budget asks of the generation budget when it grants a submit. */
export interface GenerationGate {
  /** Takes a generation if one is free now: 0 when taken, else how long (ms) until one may be. */
  tryTake(): Promise<number>;
  /** Returns a generation taken but not used (the submit gave up, or its request was not granted after all). */
  giveBack(): Promise<void>;
  /**
   * Whether a generation would be free now, or once a spacing that ends within `toleranceMs` has passed, without
   * taking it (the submit-at-once decision).
   */
  wouldGrantNow(toleranceMs?: number): Promise<boolean>;
  /**
   * A submit granted a little earlier leaves now (the submit queue claimed its job in between): the next generation
   * is spaced from this moment, so that the wait between grant and send cannot bring two submits closer upstream.
   */
  noteSent(): void;
}

/**
 * Local spacing is this much wider than 1/perSecond, as the shared gate's is: a request held up between its grant and
 * the upstream (a busy event loop, the network) must not land in the same upstream second as the next one.
 */
const SPACING_MARGIN = 1.1;

export class GenerationBudget implements GenerationGate {
  readonly #windows: GrantWindows;
  readonly #spacingMs: number;
  readonly #shared: SharedBudgetGate | undefined;
  #lastGrantAt = Number.NEGATIVE_INFINITY;
  /** The grant before the last, for giveBack(): a generation not used must not push the next one a second away. */
  #previousGrantAt = Number.NEGATIVE_INFINITY;
  /** One take at a time in this process, so that two callers never both pass the spacing check. */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(options: GenerationBudgetOptions) {
    if (!(options.perSecond > 0) || !(options.perMinute > 0))
      throw new RangeError('perSecond and perMinute must be positive');
    this.#windows = (options.grantWindows ?? memoryGrantWindows)(
      { perSecond: options.perSecond, perMinute: options.perMinute },
      'generation-budget',
      options.key ?? 'claid',
    );
    this.#spacingMs = 1000 / options.perSecond;
    this.#shared = options.shared;
  }

  tryTake(): Promise<number> {
    const taking = this.#turn.then(() => this.#takeOnce());
    this.#turn = taking.catch(() => undefined);
    return taking;
  }

  giveBack(): Promise<void> {
    this.#lastGrantAt = this.#previousGrantAt;
    return this.#windows.giveBack();
  }

  async wouldGrantNow(toleranceMs = 0): Promise<boolean> {
    if (this.#localSpacingLeft() > toleranceMs) return false;
    return (await this.#windows.remaining()) > 0;
  }

  noteSent(): void {
    this.#lastGrantAt = Math.max(this.#lastGrantAt, Date.now());
  }

  #localSpacingLeft(): number {
    return this.#lastGrantAt + this.#spacingMs * SPACING_MARGIN - Date.now();
  }

  async #takeOnce(): Promise<number> {
    const spacingLeft = this.#localSpacingLeft();
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
    this.#previousGrantAt = this.#lastGrantAt;
    this.#lastGrantAt = Date.now();
    return 0;
  }
}
