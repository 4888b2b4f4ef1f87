import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/lib/logger.js';
import { RedisGrantWindows } from '../src/services/scale-out/redis-grant-windows.js';
import type { GrantLogSpec } from '../src/services/upstream/grant-log.js';
import { dropKeys, freshKeyPrefix, redisClient, testRedisUrl } from './support/redis.js';

// Issue 13: the grant log shared by instances on one Redis (the same rule as the memory log, in one script), and
// each instance's own stand-in while Redis does not answer.

const logger = createLogger('silent');
// The "minute" shrunk to 1.5 s so that a test sees it bind, pace and slide.
const SPEC: GrantLogSpec = { perSecond: 5, perMinute: 8, secondWindowMs: 250, minuteWindowMs: 1_500 };

/**
 * Takes grants on every log in turn as fast as each allows, for `ms`; returns when each grant's answer came, and the
 * longest a take took: a grant was made in Redis somewhere inside its take, so on a loaded machine the times seen
 * here may be off the grants' by up to that much.
 */
async function grantFor(logs: RedisGrantWindows[], ms: number): Promise<{ times: number[]; slackMs: number }> {
  const times: number[] = [];
  let slackMs = 0;
  const until = Date.now() + ms;
  await Promise.all(
    logs.map(async (log) => {
      while (Date.now() < until) {
        const sentAt = Date.now();
        const wait = await log.take();
        const answeredAt = Date.now();
        if (wait === 0) {
          times.push(answeredAt);
          slackMs = Math.max(slackMs, answeredAt - sentAt);
        } else await new Promise((r) => setTimeout(r, Math.min(wait, until - Date.now() + 1)));
      }
    }),
  );
  return { times: times.sort((a, b) => a - b), slackMs };
}

function maxInAnyWindow(times: number[], windowMs: number): number {
  let max = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

describe.skipIf(!testRedisUrl)('the grant log on Redis', () => {
  const clients: Redis[] = [];
  const prefix = freshKeyPrefix();
  afterAll(async () => {
    if (clients[0]) await dropKeys(clients[0], prefix);
    for (const c of clients) c.disconnect();
  });

  it('three instances together never exceed either window, measured anywhere', async () => {
    const redis = await redisClient();
    clients.push(redis);
    const key = `${prefix}upstream-budget:grants:claid`;
    const logs = [0, 1, 2].map(() => new RedisGrantWindows(redis, key, SPEC, logger));
    const { times, slackMs } = await grantFor(logs, 4_000);
    // Measured on this process's clock, a few milliseconds off Redis's, and each grant seen up to one take late.
    const slack = 5 + slackMs;
    expect(maxInAnyWindow(times, SPEC.minuteWindowMs! - slack)).toBeLessThanOrEqual(8);
    expect(maxInAnyWindow(times, SPEC.secondWindowMs! - Math.min(slack, 100))).toBeLessThanOrEqual(5);
    // ...and uses what the windows allow: about 8 per 1.5 s over 4 s.
    expect(times.length).toBeGreaterThanOrEqual(16);
    expect(await redis.zcard(key)).toBeLessThanOrEqual(8);
  });

  it('gives back the grant it took, and says how long the next would wait without taking it', async () => {
    const redis = clients[0]!;
    const key = `${prefix}give-back`;
    const log = new RedisGrantWindows(redis, key, { perSecond: 1, perMinute: 10 }, logger);
    expect(await log.waitMs()).toBe(0);
    expect(await redis.zcard(key)).toBe(0);
    expect(await log.take()).toBe(0);
    expect(await log.waitMs()).toBeGreaterThan(1_000);
    expect(await redis.zcard(key)).toBe(1);
    expect(await log.take()).toBeGreaterThan(0);
    expect(await log.remaining()).toBe(0);
    await log.giveBack();
    expect(await redis.zcard(key)).toBe(0);
    expect(await log.remaining()).toBe(1);
    expect(await log.take()).toBe(0);
  });

  it('keeps one entry per grant, only while a window can use it', async () => {
    const redis = clients[0]!;
    const key = `${prefix}trimmed`;
    const spec: GrantLogSpec = { perSecond: 50, perMinute: 50, secondWindowMs: 100, minuteWindowMs: 300 };
    const log = new RedisGrantWindows(redis, key, spec, logger);
    // Grants taken back to back (several may fall in one millisecond) are distinct entries...
    for (let i = 0; i < 10; i++) expect(await log.take()).toBe(0);
    expect(await redis.zcard(key)).toBe(10);
    expect(await log.usedInMinute()).toBe(10);
    // ...giving one back removes the newest...
    const newest = (await redis.zrevrange(key, 0, 0))[0];
    await log.giveBack();
    expect(await redis.zcard(key)).toBe(9);
    expect(await redis.zscore(key, newest!)).toBeNull();
    // ...and once the minute window has passed them, the next grant finds them gone.
    await new Promise((r) => setTimeout(r, 350));
    expect(await log.usedInMinute()).toBe(0);
    expect(await log.take()).toBe(0);
    expect(await redis.zcard(key)).toBe(1);
  });

  it('counts its own grants while Redis does not answer', async () => {
    // A client that never connects (nothing listens on that port): the instance's memory log stands in.
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0 });
    clients.push(down);
    const log = new RedisGrantWindows(down, `${prefix}down`, { perSecond: 2, perMinute: 100 }, logger);
    expect(await log.take()).toBe(0);
    expect(await log.take()).toBe(0);
    expect(await log.take()).toBeGreaterThan(0);
    expect(await log.remaining()).toBe(0);
    await log.giveBack();
    expect(await log.remaining()).toBe(1);
  });
});
