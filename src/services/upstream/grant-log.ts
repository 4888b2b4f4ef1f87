// The account's windows as a log of recent grants: at most `perSecond` grants in any `secondWindowMs` and at most
// `perMinute` in any `minuteWindowMs`, whatever the moment: sliding windows, not windows that start at the first
// grant. Claid's windows are not documented; fixed windows that start somewhere else (the simulator's, and likely
// Claid's, are aligned to the clock) can see two windows' worth of another counter's grants in one of theirs, and a
// busy account answers those with 429s (bench/README.md, arrivals at 50 jobs a minute). A sliding window can never
// be crossed that way, whatever the upstream's windows are.
//
// Once the minute window is half used, grants are also paced: what is left of the minute is spread until its oldest
// grant leaves the window, never closer than the second's share (secondWindowMs / perSecond). A saturated account
// then never stalls (a sliding window alone would spend the minute in its first seconds, wait out the rest, and
// repeat that every minute: up to 44 s without a token), and one that is busy but below the limit still sends its
// bursts at once: the delay a subscriber sees is the wait for a token. (A floor of the minute's share, 508 ms, evens a
// saturated account out a little better but queues every burst of a busy one: at 30 jobs a minute it added seconds.)
//
// Both windows are a little wider than the upstream's (the margins): between a grant and its request reaching the
// upstream lie a few milliseconds that vary, and two grants a window apart must not land inside one of its windows.

export interface GrantLogSpec {
  perSecond: number;
  perMinute: number;
  /** Width of the "second" window kept; default SECOND_WINDOW_MS (tests shrink the minute to see it bind). */
  secondWindowMs?: number;
  /** Width of the "minute" window kept; default MINUTE_WINDOW_MS. */
  minuteWindowMs?: number;
}

/** Widths of the windows kept, the margins included (see above). */
export const SECOND_WINDOW_MS = 1_100;
export const MINUTE_WINDOW_MS = 61_000;

/** The two widths of `spec`, defaults applied. */
export const windowWidths = (spec: GrantLogSpec): { secondMs: number; minuteMs: number } => ({
  secondMs: spec.secondWindowMs ?? SECOND_WINDOW_MS,
  minuteMs: spec.minuteWindowMs ?? MINUTE_WINDOW_MS,
});
/** Share of the minute window used beyond which grants are paced evenly. */
export const PACE_FROM_SHARE = 0.5;

/** The windows a budget draws from: this process's own (memory) or shared by every instance (Redis). */
export interface GrantWindows {
  /** Takes one grant from both windows: 0 when taken, else how long (ms) to wait before asking again. */
  take(): Promise<number>;
  /** Returns the grant this process took last (nobody was waiting for it after all). */
  giveBack(): Promise<void>;
  /** How long a grant asked for now would wait, without taking one (0: it would be granted). */
  waitMs(): Promise<number>;
  /** Grants in the minute window now (every instance's, when shared); 0 when the store cannot say. */
  usedInMinute(): Promise<number>;
  /** Grants left in the tighter window now, without taking any; 0 when the store cannot say. */
  remaining(): Promise<number>;
}

/** Builds the windows of one budget (`name`: 'upstream-budget' or 'generation-budget'; `key`: the account). */
export type GrantWindowsFactory = (spec: GrantLogSpec, name: string, key: string) => GrantWindows;

/** The closest two grants go once the minute window is half used: the second's share. */
export const paceFloorMs = (spec: GrantLogSpec): number => windowWidths(spec).secondMs / spec.perSecond;

/**
 * The rule both stores apply, on the newest-first list of grant times: `recent[0]` is the last grant. Returns 0
 * when a grant may be made at `now`, else how long to wait.
 */
export function waitBeforeGrant(recent: readonly number[], spec: GrantLogSpec, now: number): number {
  const { secondMs, minuteMs } = windowWidths(spec);
  const inSecond = recent[spec.perSecond - 1];
  if (inSecond !== undefined && inSecond > now - secondMs) return inSecond + secondMs - now;
  const inMinute = countNewerThan(recent, now - minuteMs);
  if (inMinute === 0) return 0;
  const oldestLeavesIn = recent[inMinute - 1]! + minuteMs - now;
  if (inMinute >= spec.perMinute) return oldestLeavesIn;
  if (inMinute < paceFromIndex(spec)) return 0;
  // Half used: what is left is spread until the oldest grant leaves the window, never closer than the second's share.
  const gap = Math.max(paceFloorMs(spec), oldestLeavesIn / (spec.perMinute - inMinute + 1));
  return Math.max(0, recent[0]! + gap - now);
}

/**
 * How many grants of the newest-first log are later than `since`: a binary search, since a high limit (60,000 a
 * minute) keeps thousands of grants and the rule asks on every grant.
 */
export function countNewerThan(recent: readonly number[], since: number): number {
  let lo = 0;
  let hi = recent.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (recent[mid]! > since) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The 1-based place in the newest-first log whose grant, inside the minute window, starts the pacing. */
export const paceFromIndex = (spec: GrantLogSpec): number => Math.max(1, Math.ceil(spec.perMinute * PACE_FROM_SHARE));

/** Grants left at `now` in the tighter of the two windows. */
export function grantsLeft(recent: readonly number[], spec: GrantLogSpec, now: number): number {
  const { secondMs, minuteMs } = windowWidths(spec);
  const inSecond = countNewerThan(recent, now - secondMs);
  const inMinute = countNewerThan(recent, now - minuteMs);
  return Math.max(0, Math.min(spec.perSecond - inSecond, spec.perMinute - inMinute));
}

/** This process's own windows. */
export class MemoryGrantWindows implements GrantWindows {
  /** Newest first; never longer than perMinute (older grants cannot matter). */
  readonly #recent: number[] = [];

  constructor(
    private readonly spec: GrantLogSpec,
    private readonly now: () => number = Date.now,
  ) {
    if (!(spec.perSecond >= 1) || !(spec.perMinute >= 1)) throw new RangeError('perSecond and perMinute must be >= 1');
  }

  async take(): Promise<number> {
    return this.takeNow();
  }

  /** take(), synchronously: for the Redis windows' stand-in while Redis does not answer. */
  takeNow(): number {
    const now = this.now();
    const wait = waitBeforeGrant(this.#recent, this.spec, now);
    if (wait > 0) return Math.ceil(wait);
    this.#recent.unshift(now);
    if (this.#recent.length > Math.max(this.spec.perMinute, this.spec.perSecond)) this.#recent.pop();
    return 0;
  }

  async giveBack(): Promise<void> {
    this.#recent.shift();
  }

  async waitMs(): Promise<number> {
    return Math.ceil(waitBeforeGrant(this.#recent, this.spec, this.now()));
  }

  async usedInMinute(): Promise<number> {
    return countNewerThan(this.#recent, this.now() - windowWidths(this.spec).minuteMs);
  }

  async remaining(): Promise<number> {
    return grantsLeft(this.#recent, this.spec, this.now());
  }
}

export const memoryGrantWindows: GrantWindowsFactory = (spec) => new MemoryGrantWindows(spec);
