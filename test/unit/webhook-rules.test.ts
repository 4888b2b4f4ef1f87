import { describe, expect, it } from 'vitest';
import { isForbiddenAddress } from '../../src/services/webhooks/address-policy.js';
import { backoffMs, DEFAULT_RETRY_POLICY, nextAfterAttempt } from '../../src/services/webhooks/retry-schedule.js';
import { webhookUrlProblem } from '../../src/services/webhooks/webhook-url.js';

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a9fe:a9fe',
    'not-an-ip',
  ])('refuses %s', (address) => expect(isForbiddenAddress(address)).toBe(true));
  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) =>
    expect(isForbiddenAddress(address)).toBe(false),
  );
});

describe('webhookUrlProblem', () => {
  const strict = { allowPrivate: false };
  it('takes https on a public host name or address, and http only with WEBHOOK_ALLOW_PRIVATE', () => {
    expect(webhookUrlProblem('https://hooks.example.com/x', strict)).toBeNull();
    expect(webhookUrlProblem('https://8.8.8.8/x', strict)).toBeNull();
    expect(webhookUrlProblem('http://hooks.example.com/x', strict)).toMatch(/https/);
    expect(webhookUrlProblem('http://127.0.0.1:9/x', { allowPrivate: true })).toBeNull();
  });
  it('judges literal private addresses at once, host names only later', () => {
    expect(webhookUrlProblem('https://[::1]/x', strict)).toMatch(/loopback/);
    expect(webhookUrlProblem('https://localhost/x', strict)).toBeNull();
  });
});

describe('retry schedule', () => {
  it('doubles the gap, with jitter that keeps gaps growing, and stops after the window', () => {
    const created = new Date(0);
    const gaps = [1, 2, 3, 4].map((attempt) => {
      const next = nextAfterAttempt(DEFAULT_RETRY_POLICY, attempt, 500, created, created, () => 0);
      expect(next.state).toBe('PENDING');
      return next.state === 'PENDING' ? next.nextAttemptAt.getTime() : 0;
    });
    expect(gaps).toEqual([7500, 15_000, 30_000, 60_000]);
    const latest = nextAfterAttempt(DEFAULT_RETRY_POLICY, 1, 500, created, created, () => 1);
    expect(latest).toEqual({ state: 'PENDING', nextAttemptAt: new Date(10_000) });
    expect(backoffMs(DEFAULT_RETRY_POLICY, 30)).toBe(DEFAULT_RETRY_POLICY.maxGapMs);
    const late = new Date(DEFAULT_RETRY_POLICY.windowMs - 1000);
    expect(nextAfterAttempt(DEFAULT_RETRY_POLICY, 12, null, created, late).state).toBe('FAILED');
  });
  it('ends on 2xx and on 410', () => {
    const at = new Date(0);
    expect(nextAfterAttempt(DEFAULT_RETRY_POLICY, 1, 204, at, at)).toEqual({ state: 'DELIVERED' });
    expect(nextAfterAttempt(DEFAULT_RETRY_POLICY, 1, 410, at, at)).toEqual({ state: 'GONE' });
  });
});
