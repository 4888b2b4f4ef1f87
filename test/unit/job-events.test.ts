import { describe, expect, it } from 'vitest';
import type { Job } from '../../src/domain/job.js';
import { createJobPubSub } from '../../src/services/jobs/job-events.js';

describe('createJobPubSub (in memory)', () => {
  it('delivers to many subscribers of one job without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const events = createJobPubSub();
      const subscriptions = Array.from({ length: 50 }, () => events.subscribe('job:updated', 'job-1'));
      const firsts = subscriptions.map((s) => s.next());
      events.publish('job:updated', 'job-1', { id: 'job-1' } as Job);
      const received = await Promise.all(firsts);
      expect(received.every((r) => (r.value as Job).id === 'job-1')).toBe(true);
      await Promise.all(subscriptions.map((s) => s.return?.()));
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
