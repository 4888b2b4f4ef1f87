import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { withoutSecrets } from '../src/gateway/startup-summary.js';
import { captureLogger, startTestGateway } from './support/gateway.js';
import { freshSchemaName, testPostgresUrl } from './support/postgres.js';
import { testRedisUrl } from './support/redis.js';
import { startTestUpstream } from './support/test-upstream.js';

// Start-up says in one line what the gateway runs with (upstream, store, Redis, auth mode, CORS origins), and that
// line never carries a secret: not the Claid key, not the JWT secret, not a password in DATABASE_URL or REDIS_URL.

const CLAID_KEY = 'sk-live-STARTUP-CLAID-SECRET';
const JWT_SECRET = 'jwt-STARTUP-SECRET-0123456789abcdefghij';
const PG_PASSWORD = 'pg-STARTUP-SECRET';
const REDIS_PASSWORD = 'redis-STARTUP-SECRET';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A PostgreSQL URL with a password (trust auth ignores it) and a search_path of its own, or a SQLite file. */
async function databaseUrl(): Promise<string> {
  if (!testPostgresUrl) return 'sqlite::memory:';
  const schema = freshSchemaName();
  const admin = new pg.Pool({ connectionString: testPostgresUrl, max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  cleanups.push(async () => {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  });
  const url = new URL(testPostgresUrl);
  url.password = PG_PASSWORD;
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** Redis's default user has no password, so it accepts any (two-argument AUTH, which a user name makes ioredis send). */
function redisUrl(): string | undefined {
  if (!testRedisUrl) return undefined;
  const url = new URL(testRedisUrl);
  url.username = 'default';
  url.password = REDIS_PASSWORD;
  return url.toString();
}

describe('the start-up line', () => {
  it('names upstream, store, Redis, auth mode and CORS origins, and no secret', async () => {
    const upstream = await startTestUpstream({ apiKey: CLAID_KEY });
    cleanups.push(() => upstream.close());
    const logs = captureLogger('info');
    const redis = redisUrl();
    const gateway = await startTestGateway({
      logger: logs.logger,
      env: {
        CLAID_API_KEY: CLAID_KEY,
        CLAID_API_URL: upstream.url,
        DATABASE_URL: await databaseUrl(),
        ...(redis ? { REDIS_URL: redis } : {}),
        AUTH_MODE: 'jwt',
        JWT_SECRET,
        CORS_ORIGINS: 'https://app.example.com,https://admin.example.com',
      },
    });
    cleanups.push(() => gateway.stop());

    const listening = logs.lines.filter((l) => l.includes('gateway listening'));
    expect(listening).toHaveLength(1);
    const line = JSON.parse(listening[0]!) as Record<string, string>;
    expect(line.msg).toContain(`gateway listening on ${gateway.url}/graphql`);
    expect(line.msg).toContain(`upstream ${upstream.url.replace(/\/$/, '')}`);
    expect(line.msg).toContain('auth jwt');
    expect(line.msg).toContain('CORS origins https://app.example.com https://admin.example.com');
    if (testPostgresUrl) expect(line.msg).toMatch(/store postgres(ql)?:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/\S+\?…;/);
    else expect(line.msg).toContain('store sqlite::memory:');
    if (redis) expect(line.msg).toContain('redis redis://default:***@127.0.0.1:6379');
    else expect(line.msg).toContain('redis none');

    for (const secret of [CLAID_KEY, JWT_SECRET, PG_PASSWORD, REDIS_PASSWORD])
      expect(logs.text()).not.toContain(secret);
  });

  it('says when the embedded simulator is the upstream and callers are same-origin only', async () => {
    const logs = captureLogger('info');
    const gateway = await startTestGateway({ logger: logs.logger });
    cleanups.push(() => gateway.stop());
    const line = logs.lines.find((l) => l.includes('gateway listening'))!;
    const simulator = gateway.internals.simulator!.url;
    expect(JSON.parse(line).msg).toContain(`upstream the embedded simulator at ${simulator}`);
    expect(JSON.parse(line).msg).toContain('auth none; CORS origins same origin only');
  });
});

describe('withoutSecrets', () => {
  it.each([
    ['postgres://app:s3cret@db.internal:5432/gateway', 'postgres://app:***@db.internal:5432/gateway'],
    ['postgres://app@db/gateway?password=s3cret&sslmode=require', 'postgres://app@db/gateway?…'],
    ['rediss://:s3cret@cache:6380/0', 'rediss://:***@cache:6380/0'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['sqlite:./data/gateway.db', 'sqlite:./data/gateway.db'],
    ['https://user:s3cret@api.claid.ai/', 'https://user:***@api.claid.ai'],
  ])('%s -> %s', (url, shown) => {
    expect(withoutSecrets(url)).toBe(shown);
    expect(withoutSecrets(url)).not.toContain('s3cret');
  });
});
