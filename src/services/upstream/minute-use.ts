import type { GrantWindows } from './grant-log.js';

/**
 * Share of the account's minute in use (0..1): every instance's grants when the windows are shared. Read from the
 * windows after a grant, at most once a second, so that it costs the budget's pump nothing; the learned read planner
 * spends more reads while the account has room (duration-model.ts tuningForBudgetUse).
 */
export class MinuteUse {
  #share = 0;
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly windows: GrantWindows,
    private readonly perMinute: number,
  ) {}

  get share(): number {
    return this.#share;
  }

  /** A grant was made: read the windows' count again, unless that was done within the last second. */
  afterGrant(): void {
    const now = Date.now();
    if (now - this.#readAt < 1_000) return;
    this.#readAt = now;
    void this.windows
      .usedInMinute()
      .then((used) => {
        this.#share = Math.min(1, used / this.perMinute);
      })
      .catch(() => undefined);
  }
}
