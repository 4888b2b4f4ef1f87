import { describe, expect, it } from 'vitest';
import { runAfterPendingIo } from '../../src/lib/after-pending-io.js';

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
};

describe('runAfterPendingIo', () => {
  it('runs tasks in the order given, after the callbacks of the current phase', async () => {
    const log: string[] = [];
    await new Promise<void>((resolve) => {
      setTimeout(() => {
        runAfterPendingIo(() => log.push('first'));
        runAfterPendingIo(() => log.push('second'));
        log.push('queued');
      }, 0);
      setTimeout(() => log.push('same phase'), 0);
      runAfterPendingIo(() => undefined);
      setTimeout(() => setTimeout(resolve, 5), 0);
      // Both timers are due by the time the loop looks, so one timers phase runs them together.
      busy(5);
    });
    expect(log).toEqual(['queued', 'same phase', 'first', 'second']);
  });

  it('leaves the rest to a later turn once a turn has run 2 ms of tasks', async () => {
    const log: string[] = [];
    await new Promise<void>((resolve) => {
      runAfterPendingIo(() => {
        busy(3);
        log.push('long');
      });
      runAfterPendingIo(() => {
        log.push('after');
        resolve();
      });
      // Scheduled behind the first turn, it runs before the second.
      setImmediate(() => log.push('other'));
    });
    expect(log).toEqual(['long', 'other', 'after']);
  });
});
