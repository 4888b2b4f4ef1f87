import { describe, expect, it } from 'vitest';
import { CallerLimits } from '../../src/services/auth/caller-limits.js';

// The slots behind the subscription and unfinished-jobs limits, in process: what a release gives back is exactly
// one slot, however often it is called.

const config = {
  maxSubmitsPerMinute: 100,
  maxUnfinishedJobs: 2,
  maxSubscriptionsPerConnection: 2,
  maxSubscriptionsPerCaller: 3,
};
const noUnfinished = { countUnfinished: async () => 0 };

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
