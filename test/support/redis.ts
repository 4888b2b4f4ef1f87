import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

// Redis suites run when REDIS_URL is set (.ci/run sets it) and are reported skipped otherwise. Each test run uses
// keys and channels under a prefix of its own, so test files running at once never see each other's leases.

export const testRedisUrl: string | undefined = process.env.REDIS_URL?.trim() || undefined;

/** `t:` and 12 random hex digits, then a colon: e.g. `t:3fa2c1d9e0b4:`. */
export const freshKeyPrefix = (): string => `t:${randomBytes(6).toString('hex')}:`;

/** A connected client; call `dropKeys(client, prefix)` and `quit()` when done. */
export async function redisClient(): Promise<Redis> {
  const client = new Redis(testRedisUrl!, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await client.connect();
  return client;
}

/** Deletes every key under `prefix`. */
export async function dropKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}
