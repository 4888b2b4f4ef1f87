import { describe, expect, it } from 'vitest';
import { once } from '../../src/lib/once.js';

describe('once', () => {
  it('runs the release the first time only', () => {
    let calls = 0;
    const release = once(() => calls++);
    release();
    release();
    release();
    expect(calls).toBe(1);
  });
});
