import { describe, expect, it } from 'vitest';
import { DisposerStack } from '../../src/lib/disposer-stack.js';

describe('DisposerStack', () => {
  it('runs every step newest first, reports a failing one and still runs the rest', async () => {
    const ran: string[] = [];
    const failures: [string, unknown][] = [];
    const stack = new DisposerStack((name, error) => failures.push([name, error]));
    stack.add('store', () => ran.push('store'));
    stack.add('redis', async () => {
      ran.push('redis');
      throw new Error('redis went away');
    });
    stack.add('server', async () => {
      await new Promise((r) => setTimeout(r, 5));
      ran.push('server');
    });
    stack.add('timer', () => {
      ran.push('timer');
      throw new Error('sync failure');
    });

    await expect(stack.dispose()).resolves.toBeUndefined();
    expect(ran).toEqual(['timer', 'server', 'redis', 'store']);
    expect(failures.map(([name, error]) => [name, (error as Error).message])).toEqual([
      ['timer', 'sync failure'],
      ['redis', 'redis went away'],
    ]);
  });

  it('disposes once however often it is asked, and refuses steps added afterwards', async () => {
    let calls = 0;
    const stack = new DisposerStack(() => undefined);
    stack.add('once', () => calls++);
    const first = stack.dispose();
    expect(stack.dispose()).toBe(first);
    await first;
    await stack.dispose();
    expect(calls).toBe(1);
    expect(() => stack.add('late', () => undefined)).toThrow(/already disposed/);
  });
});
