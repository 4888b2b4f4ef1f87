import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGateway, startGateway } from '../src/gateway/build-gateway.js';
import { loadConfig } from '../src/gateway/config.js';
import { StartError } from '../src/gateway/start-errors.js';
import { createLogger } from '../src/lib/logger.js';
import { testRedisUrl } from './support/redis.js';

// A start that fails closes whatever it had opened and says in one line which variable to change. The child
// processes end by themselves: main.ts never calls process.exit after a failed start, so a server, a connection or
// a timer left open would keep them alive past the deadline.

const held: Server[] = [];
afterEach(async () => {
  await Promise.all(held.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function holdPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  held.push(server);
  return (server.address() as { port: number }).port;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function canListenOn(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      SIMULATOR_PORT: '0',
      DATABASE_URL: 'sqlite::memory:',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stderr, ms: Date.now() - started };
}

describe('the gateway process, when its start fails', () => {
  it('exits 1 by itself with one line when PORT is in use', async () => {
    const port = await holdPort();
    const { code, stderr } = await runMain({ PORT: String(port) });
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([`PORT ${port} is in use: set PORT`]);
  });

  it('exits 1 by itself with one line when SIMULATOR_PORT is in use', async () => {
    const port = await holdPort();
    const { code, stderr } = await runMain({ SIMULATOR_PORT: String(port) });
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([`SIMULATOR_PORT ${port} is in use: set SIMULATOR_PORT`]);
  });

  it('exits 1 by itself naming DATABASE_URL, without its password, when the store is unreachable', async () => {
    const { code, stderr } = await runMain({ DATABASE_URL: 'postgres://postgres:s3cret@127.0.0.1:1/x' });
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^DATABASE_URL: could not open the store \(.*ECONNREFUSED.*\)$/);
    expect(stderr).not.toContain('s3cret');
  });
});

describe('a start that fails in process', () => {
  const quiet = createLogger('silent');
  const baseEnv = { HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: 'sqlite::memory:' };
  /** Handles that keep a process alive (sockets, servers, timers, file watchers), counted by kind. */
  const liveResources = () => {
    const counts: Record<string, number> = {};
    for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
    return counts;
  };
  /** Every kind of handle is at most as numerous as before: whatever the start opened is gone again. */
  const expectNoneLeft = async (before: Record<string, number>) => {
    await new Promise((r) => setTimeout(r, 50));
    const after = liveResources();
    for (const [kind, count] of Object.entries(after))
      expect({ kind, count }).toEqual({ kind, count: Math.min(count, before[kind] ?? 0) });
  };

  it('rejects naming DATABASE_URL and closes what it had opened (Redis too, when configured)', async () => {
    const before = liveResources();
    const config = loadConfig({
      ...baseEnv,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x',
      ...(testRedisUrl ? { REDIS_URL: testRedisUrl, REDIS_KEY_PREFIX: 't:start-failure:' } : {}),
    });
    const failure = await buildGateway(config, { logger: quiet }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(StartError);
    expect(failure).toMatchObject({ variable: 'DATABASE_URL' });
    expect((failure as Error).message).toMatch(/^DATABASE_URL: could not open the store \(/);
    await expectNoneLeft(before);
  });

  it('rejects naming PORT and closes the embedded simulator it had started, freeing SIMULATOR_PORT', async () => {
    const port = await holdPort();
    const simulatorPort = await freePort();
    const before = liveResources();
    const config = loadConfig({ ...baseEnv, PORT: String(port), SIMULATOR_PORT: String(simulatorPort) });
    await expect(startGateway(config, { logger: quiet })).rejects.toThrow(`PORT ${port} is in use: set PORT`);
    expect(await canListenOn(simulatorPort)).toBe(true);
    await expectNoneLeft(before);
  });
});
