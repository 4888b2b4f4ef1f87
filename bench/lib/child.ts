import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A benchmark server in its own process, pinned to one core with taskset, driven over Node's IPC channel.

const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const hasTaskset = existsSync('/usr/bin/taskset') || existsSync('/bin/taskset');

export interface Child {
  name: string;
  pid: number;
  /** What the child sent once it was listening (its URL and so on). */
  info: Record<string, any>;
  rpc<T = any>(cmd: string, args?: unknown): Promise<T>;
  stop(): Promise<void>;
  /** The last lines the child printed (logs go here, not to the benchmark's output). */
  tail(): string;
}

export interface SpawnOptions {
  core?: number;
  env?: Record<string, string>;
  /** Passed to the child as its first message's payload. */
  args?: unknown;
  exposeGc?: boolean;
  verbose?: boolean;
}

export async function spawnChild(name: string, mode: string, options: SpawnOptions = {}): Promise<Child> {
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of every server child there (to see what bounds a figure).
  // (Not the simulator: the profiler's own work would keep it from ever looking idle; nor the load generator.)
  // BENCH_CPU_PROF_INTERVAL_US: the sampling interval (V8's default is 1000 µs), finer for a short scenario.
  const interval = process.env.BENCH_CPU_PROF_INTERVAL_US;
  const prof =
    process.env.BENCH_CPU_PROF && mode !== 'simulator' && mode !== 'subscribers'
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`,
          ...(interval ? [`--cpu-prof-interval=${interval}`] : []),
        ]
      : [];
  // BENCH_NODE_FLAGS='--trace-gc …': more V8 flags for the same children (NODE_OPTIONS refuses some, such as --trace-gc).
  const extra =
    process.env.BENCH_NODE_FLAGS && mode !== 'simulator' && mode !== 'subscribers'
      ? process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean)
      : [];
  const nodeArgs = [...(options.exposeGc ? ['--expose-gc'] : []), ...prof, ...extra, '--import', 'tsx', SERVER, mode];
  const [cmd, argv] =
    hasTaskset && options.core !== undefined
      ? ['taskset', ['-c', String(options.core), process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
  const child: ChildProcess = spawn(cmd, argv as string[], {
    cwd: ROOT,
    env: { ...process.env, BENCH_CHILD_ARGS: JSON.stringify(options.args ?? {}), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const lines: string[] = [];
  // BENCH_CHILD_OUTPUT=<dir>: everything a server child prints, whole, in <dir>/<name>-<pid>.log (V8's --trace-opt
  // and --trace-deopt print to stdout; the benchmark otherwise keeps only the last lines, for its error messages).
  const outputDir = process.env.BENCH_CHILD_OUTPUT;
  const output = outputDir ? createWriteStream(join(outputDir, `${name}-${child.pid}.log`)) : undefined;
  // Each chunk stamped with the time it arrived (ms since the epoch), to place V8's traces in the run's steps.
  const stamp = (chunk: Buffer) => output?.write(`@${Date.now()}\n${chunk.toString('utf8')}`);
  if (output) {
    child.stdout!.on('data', stamp);
    child.stderr!.on('data', stamp);
  }
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      if (options.verbose) process.stderr.write(`[${name}] ${line}\n`);
      lines.push(line);
      if (lines.length > 200) lines.shift();
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  let seq = 0;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const info = await new Promise<Record<string, any>>((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`${name} exited (${code}) before it was ready:\n${lines.slice(-30).join('\n')}`));
    child.once('exit', onExit);
    child.on('message', (msg: any) => {
      if (msg?.type === 'ready') {
        child.off('exit', onExit);
        resolve(msg.info);
      } else if (msg?.type === 'reply') {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.ok) p?.resolve(msg.result);
        else p?.reject(new Error(`${name}.${msg.cmd}: ${msg.error}`));
      }
    });
  });
  child.once('exit', (code) => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error(`${name} exited (${code}):\n${lines.slice(-30).join('\n')}`));
    pending.clear();
  });
  const rpc = <T>(cmd: string, args?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(new Error(`${name} has exited`));
      const id = ++seq;
      pending.set(id, { resolve, reject });
      child.send({ type: 'call', id, cmd, args });
    });
  const stop = async () => {
    if (exited) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await rpc('stop').catch(() => undefined);
    child.disconnect?.();
    await exitedPromise;
    clearTimeout(timer);
  };
  return { name, pid: child.pid!, info, rpc, stop, tail: () => lines.join('\n') };
}

/** VmRSS / VmHWM of any process on this machine, in bytes (Linux). */
export function procMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}
