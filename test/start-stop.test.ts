import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

// `npm start` and `npm run simulator` as a process manager runs them: from the compiled dist/, stopped by a
// SIGTERM sent to the npm process alone. npm forwards the signal to its child, which is node itself only when the
// script execs it (a shell in between dies and leaves node running).

const run = promisify(execFile);

beforeAll(async () => {
  await run('npm', ['run', 'build'], { timeout: 170_000 });
}, 180_000);

interface Started {
  npm: ChildProcessWithoutNullStreams;
  /** The first JSON line whose msg starts with `until`. */
  line: Record<string, any>;
  stdout: () => string;
}

async function npmRun(args: string[], until: string, env: Record<string, string>): Promise<Started> {
  const npm = spawn('npm', args, {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      SIMULATOR_PORT: '0',
      DATABASE_URL: 'sqlite::memory:',
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  let stdout = '';
  npm.stderr.resume();
  const line = await new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${until}" line in 20 s:\n${stdout}`)), 20_000);
    npm.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      for (const text of stdout.split('\n')) {
        if (!text.startsWith('{')) continue;
        const parsed = JSON.parse(text) as Record<string, any>;
        if (String(parsed.msg).startsWith(until)) {
          clearTimeout(timer);
          resolve(parsed);
        }
      }
    });
    npm.once('exit', (code) => reject(new Error(`npm ${args.join(' ')} exited ${code}:\n${stdout}`)));
  });
  return { npm, line, stdout: () => stdout };
}

/** Whether `pid` still runs; a survivor is killed so that a failing test leaves nothing behind. */
function aliveThenKill(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  process.kill(pid, 'SIGKILL');
  return true;
}

async function portFree(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  return new Promise((resolve) => {
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** SIGTERM to npm only; resolves to npm's exit code and how long it took. */
async function terminate(npm: ChildProcessWithoutNullStreams): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const exited = once(npm, 'exit') as Promise<[number | null]>;
  npm.kill('SIGTERM');
  const timer = setTimeout(() => npm.kill('SIGKILL'), 10_000);
  const [code] = await exited;
  clearTimeout(timer);
  return { code, ms: Date.now() - started };
}

describe('npm start', () => {
  it('runs the compiled gateway, which answers GraphQL and GraphiQL, and stops when npm gets SIGTERM', async () => {
    const { npm, line } = await npmRun(['start'], 'gateway listening', {});
    const gatewayPid = line.pid as number;
    expect(gatewayPid).not.toBe(npm.pid);
    const url = new URL(line.url as string);
    try {
      // The schema file and GraphiQL's assets resolve from dist/ as they do from src/.
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
      const page = await fetch(url, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
    } finally {
      const stopped = await terminate(npm);
      expect(aliveThenKill(gatewayPid)).toBe(false);
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(5_000);
    }
    expect(await portFree(Number(url.port))).toBe(true);
  });
});

describe('npm run simulator', () => {
  it('runs the compiled simulator, which serves its sample images, and stops when npm gets SIGTERM', async () => {
    const { npm, line } = await npmRun(['run', 'simulator'], 'Claid simulator listening', {});
    const simulatorPid = line.pid as number;
    try {
      const sample = await fetch(line.sampleUrl as string);
      expect(sample.status).toBe(200);
      expect(sample.headers.get('content-type')).toMatch(/^image\//);
    } finally {
      const stopped = await terminate(npm);
      expect(aliveThenKill(simulatorPid)).toBe(false);
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(5_000);
    }
  });
});
