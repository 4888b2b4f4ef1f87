import { describe, expect, it } from 'vitest';
import { CallerLimits } from '../../src/services/auth/caller-limits.js';

// The slots behind the subscription and unfinished-jobs limits, in process: what a release gives back is exactly
// one slot, however often it is called.

const config = {
  maxSubmitsPerMinute: 100,
  maxUnfinishedJobs: 2,
  maxSubscriptionsPerConnection: 2,
  maxSubscriptionsPerCaller: 3,
  maxCreditsPerDay: 10,
};
const noUnfinished = { countUnfinished: async () => 0, creditsSpent: async () => 0 };

const refusal = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('CallerLimits subscriptions', () => {
  it('refuses the subscription over the caller limit; a released slot lets the next one in', () => {
    const limits = new CallerLimits(config, noUnfinished);
    const releases = [1, 2, 3].map(() => limits.acquireSubscription('alice'));
    expect(refusal(() => limits.acquireSubscription('alice'))).toMatchObject({
      code: 'RATE_LIMITED',
      extensions: { limit: 'MAX_SUBSCRIPTIONS_PER_CALLER' },
    });
    expect(refusal(() => limits.acquireSubscription('bob'))).toBeUndefined();
    releases[0]?.();
    expect(refusal(() => limits.acquireSubscription('alice'))).toBeUndefined();
  });

  it('a release called twice gives back one slot, not two', () => {
    const limits = new CallerLimits(config, noUnfinished);
    const first = limits.acquireSubscription('alice');
    limits.acquireSubscription('alice');
    limits.acquireSubscription('alice');
    first();
    first();
    limits.acquireSubscription('alice');
    expect(refusal(() => limits.acquireSubscription('alice'))).toMatchObject({
      extensions: { limit: 'MAX_SUBSCRIPTIONS_PER_CALLER' },
    });
  });

  it('counts per connection as well, and a connection slot comes back with the release', () => {
    const limits = new CallerLimits(config, noUnfinished);
    const socket = {};
    const first = limits.acquireSubscription('alice', socket);
    limits.acquireSubscription('alice', socket);
    expect(refusal(() => limits.acquireSubscription('alice', socket))).toMatchObject({
      extensions: { limit: 'MAX_SUBSCRIPTIONS_PER_CONNECTION' },
    });
    first();
    first();
    limits.acquireSubscription('alice', socket);
    expect(refusal(() => limits.acquireSubscription('alice', socket))).toMatchObject({
      extensions: { limit: 'MAX_SUBSCRIPTIONS_PER_CONNECTION' },
    });
  });
});

describe('CallerLimits submits', () => {
  it('holds a slot per submit in flight; a release called twice gives back one', async () => {
    const limits = new CallerLimits(config, noUnfinished);
    const first = await limits.admitSubmit('alice');
    await limits.admitSubmit('alice');
    await expect(limits.admitSubmit('alice')).rejects.toMatchObject({
      extensions: { limit: 'MAX_UNFINISHED_JOBS' },
    });
    first();
    first();
    await limits.admitSubmit('alice');
    await expect(limits.admitSubmit('alice')).rejects.toMatchObject({
      extensions: { limit: 'MAX_UNFINISHED_JOBS' },
    });
  });
});

describe('CallerLimits credits', () => {
  it('reserves the credits of submits under way, refuses past MAX_CREDITS_PER_DAY until a release gives them back', async () => {
    const now = new Date('2026-03-04T22:00:00.000Z');
    const limits = new CallerLimits({ ...config, maxUnfinishedJobs: 10 }, { ...noUnfinished, now: () => now });
    const first = await limits.admitSubmit('alice', { output: { numberOfImages: 4 } });
    const second = await limits.admitSubmit('alice');
    const asks = await limits.admitSubmit('alice', {});
    // 8 + 2 reserved: nothing more fits today.
    const refused = await limits.admitSubmit('alice', {}).catch((error: unknown) => error);
    expect(refused).toMatchObject({
      code: 'RATE_LIMITED',
      extensions: { limit: 'MAX_CREDITS_PER_DAY', retryAfterSeconds: 7200, resetAt: '2026-03-05T00:00:00.000Z' },
    });
    second();
    asks();
    asks();
    const third = await limits.admitSubmit('alice', { output: { numberOfImages: 1 } });
    expect((await limits.credits.usage('alice')).spent).toBe(10);
    first();
    third();
    expect((await limits.credits.usage('alice')).spent).toBe(0);
  });

  it("takes a caller's own limit over the gateway's", async () => {
    const limits = new CallerLimits(config, {
      ...noUnfinished,
      creditsSpent: async () => 18,
      maxCreditsPerDayOf: (owner) => (owner === 'big' ? 20 : undefined),
    });
    expect(await limits.admitSubmit('big', {})).toBeTypeOf('function');
    await expect(limits.admitSubmit('small', {})).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  });
});
