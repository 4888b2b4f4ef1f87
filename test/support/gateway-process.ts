import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { waitFor } from './poller-harness.js';
import { freshKeyPrefix } from './redis.js';

// The gateway as its own process (`src/main.ts`), for what only a real process shows: SIGKILL and a restart.

export interface GatewayProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Redis keys of this test file's gateways (a child inherits REDIS_URL): files running at once must not share leases
 * or, above all, the upstream budget's grant log, where another file's grants would hold this one's back. A restart
 * within the file keeps them, as a restarted instance would.
 */
const FILE_KEY_PREFIX = freshKeyPrefix();

export async function spawnGateway(env: Record<string, string>, timeoutMs = 20_000): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', REDIS_KEY_PREFIX: FILE_KEY_PREFIX, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    const line = output.split('\n').find((l) => l.includes('"msg":"gateway listening'));
    if (line) url = (JSON.parse(line) as { url: string }).url.replace(/\/graphql$/, '');
    else if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start: ${output}`);
    } else await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    child,
    output: () => output,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

/** A free loopback port (for a server that must name its port up front). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

export interface GatewayChild {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** Everything it wrote to stdout and stderr so far, chunk by chunk. */
  output: string[];
}

/**
 * `src/main.ts` as a child on a free port, named by INSTANCE_ID, once it listens; `cleanups` gets its SIGTERM. For the
 * suites where several instances share Redis and a database and one may be killed.
 */
export async function startGatewayChild(
  name: string,
  env: Record<string, string>,
  cleanups: (() => Promise<unknown> | void)[],
): Promise<GatewayChild> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, REDIS_KEY_PREFIX: FILE_KEY_PREFIX, ...env, PORT: String(port), INSTANCE_ID: name },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
  await waitFor(
    () => output.join('').includes('gateway listening') || child.exitCode !== null,
    20_000,
    `${name} to listen`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${output.join('')}`);
  });
  if (child.exitCode !== null) throw new Error(`${name} exited: ${output.join('')}`);
  return { child, url: `http://127.0.0.1:${port}`, output };
}
