import { describe, expect, it } from 'vitest';
import {
  countNewerThan,
  type GrantLogSpec,
  grantsLeft,
  MemoryGrantWindows,
  MINUTE_WINDOW_MS,
  paceFloorMs,
  SECOND_WINDOW_MS,
  waitBeforeGrant,
} from '../../src/services/upstream/grant-log.js';

// Issue 13: the account's windows as a sliding log. Whatever moment the upstream's windows start at (the simulator's
// and, likely, Claid's are aligned to the clock), no window of theirs can hold more than the limit.

const CLAID: GrantLogSpec = { perSecond: 4, perMinute: 120 };

/** Grants as fast as the log allows over `ms` of a fake clock; returns their times. */
function grantAll(spec: GrantLogSpec, ms: number, start = 1_000_000): number[] {
  let now = start;
  const windows = new MemoryGrantWindows(spec, () => now);
  const times: number[] = [];
  while (now < start + ms) {
    const wait = windows.takeNow();
    if (wait === 0) times.push(now);
    else now += wait;
  }
  return times;
}

/** The most grants in any window of `windowMs` starting anywhere (sliding). */
function maxInAnyWindow(times: number[], windowMs: number): number {
  let max = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

/** The most grants in any clock-aligned window of `windowMs` (how the simulator counts). */
function maxInAlignedWindow(times: number[], windowMs: number): number {
  const counts = new Map<number, number>();
  for (const t of times) counts.set(Math.floor(t / windowMs), (counts.get(Math.floor(t / windowMs)) ?? 0) + 1);
  return Math.max(...counts.values());
}

describe('the grant log', () => {
  it('never grants more than the limit in any second or any minute, wherever the window starts', () => {
    const times = grantAll(CLAID, 5 * 60_000, 1_000_123);
    expect(maxInAnyWindow(times, 1_000)).toBeLessThanOrEqual(4);
    expect(maxInAnyWindow(times, 60_000)).toBeLessThanOrEqual(120);
    expect(maxInAlignedWindow(times, 60_000)).toBeLessThanOrEqual(120);
    // ...and still uses the account: 120 per (slightly wider) minute.
    expect(times.length).toBeGreaterThanOrEqual(Math.floor((5 * 60_000) / MINUTE_WINDOW_MS) * 120);
  });

  it('bursts at the per-second rate while the minute has room, then paces the rest evenly', () => {
    const times = grantAll(CLAID, 120_000);
    // The first half of the minute's grants go at the per-second limit (four per 1.1 s)...
    expect(times[59]! - times[0]!).toBeLessThan(20_000);
    // ...the rest spread until the oldest leave, never a stall: no gap over a second, none under the second's share.
    const gaps = times.slice(60, 200).map((t, i) => t - times[59 + i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(Math.floor(paceFloorMs(CLAID)));
    expect(Math.max(...gaps)).toBeLessThan(2_000);
  });

  it('waits for the oldest grant of a full window to leave it', () => {
    const now = 10_000_000;
    // Four grants in the last 300 ms fill the second: the next may go when the oldest is SECOND_WINDOW_MS old.
    expect(waitBeforeGrant([now - 100, now - 200, now - 250, now - 300], CLAID, now)).toBe(SECOND_WINDOW_MS - 300);
    expect(grantsLeft([now - 100, now - 200, now - 250, now - 300], CLAID, now)).toBe(0);
    // 120 grants within the minute, none in the last second: the 120th oldest decides.
    const minute = Array.from({ length: 120 }, (_, i) => now - 2_000 - i * 400);
    expect(waitBeforeGrant(minute, CLAID, now)).toBe(minute[119]! + MINUTE_WINDOW_MS - now);
    expect(grantsLeft([], CLAID, now)).toBe(4);
  });

  it('gives back the grant it took last', async () => {
    let now = 0;
    const windows = new MemoryGrantWindows({ perSecond: 1, perMinute: 10 }, () => now);
    expect(windows.takeNow()).toBe(0);
    now += 10;
    expect(windows.takeNow()).toBeGreaterThan(0);
    await windows.giveBack();
    expect(windows.takeNow()).toBe(0);
  });

  it('counts the grants inside a window by binary search, edges excluded as the rule has them', () => {
    const recent = [900, 800, 800, 700, 500, 100];
    expect(countNewerThan(recent, 1000)).toBe(0);
    expect(countNewerThan(recent, 800)).toBe(1);
    expect(countNewerThan(recent, 799)).toBe(3);
    expect(countNewerThan(recent, 100)).toBe(5);
    expect(countNewerThan(recent, 0)).toBe(6);
    expect(countNewerThan([], 0)).toBe(0);
    // The same answer as the plain count, on a long log.
    const long = Array.from({ length: 6_001 }, (_, i) => 60_000 - i * 10);
    for (const since of [-1, 0, 5, 12_345, 59_990, 60_000])
      expect(countNewerThan(long, since)).toBe(long.filter((at) => at > since).length);
  });

  it('refuses limits it cannot keep', () => {
    expect(() => new MemoryGrantWindows({ perSecond: 0, perMinute: 10 })).toThrow(RangeError);
  });
});
