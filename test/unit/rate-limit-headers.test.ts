import { describe, expect, it } from 'vitest';
import { bindingWindow } from '../../src/services/upstream/claid-errors.js';

// Claid's RateLimit-Limit (claid-facts.md: `4, 120;w=60, 4;w=1`): the budget pauses for a spent minute, not for a
// spent second it keeps itself, so it must tell which window Remaining and Reset speak of.

describe('RateLimit-Limit: which window Remaining and Reset speak of', () => {
  it('is the policy whose limit the first value names', () => {
    expect(bindingWindow('4, 120;w=60, 4;w=1')).toEqual({ seconds: 1, limit: 4 });
    expect(bindingWindow('120, 120;w=60, 4;w=1')).toEqual({ seconds: 60, limit: 120 });
    expect(bindingWindow('10;w=1')).toEqual({ seconds: 1, limit: 10 });
  });

  it('is unknown when the header is absent, unnamed or ambiguous', () => {
    expect(bindingWindow(undefined)).toBeUndefined();
    expect(bindingWindow('4')).toBeUndefined();
    expect(bindingWindow('60, 60;w=60, 60;w=1')).toBeUndefined();
    expect(bindingWindow('lots')).toBeUndefined();
  });
});
