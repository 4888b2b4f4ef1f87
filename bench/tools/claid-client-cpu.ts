import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSimulatorChild } from '../lib/stack.js';

// CPU and latency of the Claid client's submit (createClaidClient from a build's dist/) against the simulator, for
// one or more builds, each in a fresh process pinned to core 0 (the simulator on core 1, as in the benchmark):
// the first 200 calls (a process as the submit benchmark meets it) and the next 1,000 (warm). Rounds alternate
// the builds, so that they see the same machine.
//   node --import tsx bench/tools/claid-client-cpu.ts [rounds=3] label=path/to/dist [label=path/to/dist ...]
// e.g. against the commit before: git worktree add /tmp/base HEAD~ && (cd /tmp/base && ln -s "$PWD/node_modules"
// node_modules && npx tsc -p tsconfig.build.json), then now=dist base=/tmp/base/dist.

const [roundsArg, ...builds] = process.argv.slice(2);
const rounds = Number(roundsArg);
const versions = builds.map((arg) => arg.split('=') as [string, string]);
if (!Number.isInteger(rounds) || versions.length === 0 || versions.some((v) => v.length !== 2)) {
  throw new Error('usage: claid-client-cpu.ts <rounds> label=path/to/dist [label=path/to/dist ...]');
}

// The measuring process: plain node on the build's own files, nothing of the benchmark harness loaded.
const CHILD = `
const [dist, url, key] = process.argv.slice(2);
const { createClaidClient } = await import(dist + '/services/upstream/claid-client.js');
const { createLogger } = await import(dist + '/lib/logger.js');
const client = createClaidClient({ baseUrl: url, apiKey: key, timeoutMs: 30000, retries: 0, logger: createLogger('warn') });
const request = (i) => ({ input: 'storage://bench-bucket/input.jpg', output: { format: 'jpeg', numberOfImages: 1 },
  options: { prompt: 'add a duck #' + i, model: 'v1', aspectRatio: '1:1' } });
let n = 0;
async function calls(count) {
  const cpu = process.cpuUsage();
  const ms = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await client.submit(request(n++));
    ms.push(performance.now() - started);
  }
  const spent = process.cpuUsage(cpu);
  ms.sort((a, b) => a - b);
  return { cpuUs: Math.round((spent.user + spent.system) / count), p50Ms: Number(ms[count >> 1].toFixed(3)) };
}
const first = await calls(200);
const warm = await calls(1000);
console.log(JSON.stringify({ first, warm }));
await client.close();
`;

const childFile = join(tmpdir(), `claid-client-cpu-${process.pid}.mjs`);
writeFileSync(childFile, CHILD);
const sim = await startSimulatorChild({ stepMs: 1500 });
const results = new Map<string, { first: number[]; firstP50: number[]; warm: number[]; warmP50: number[] }>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const [label, dist] of versions) {
      const out = execFileSync('taskset', [
        '-c',
        '0',
        process.execPath,
        childFile,
        resolve(dist),
        sim.info.url,
        sim.info.apiKey,
      ]).toString();
      const { first, warm } = JSON.parse(out) as Record<'first' | 'warm', { cpuUs: number; p50Ms: number }>;
      const entry = results.get(label) ?? { first: [], firstP50: [], warm: [], warmP50: [] };
      entry.first.push(first.cpuUs);
      entry.firstP50.push(first.p50Ms);
      entry.warm.push(warm.cpuUs);
      entry.warmP50.push(warm.p50Ms);
      results.set(label, entry);
      console.log(
        `${label} round ${round + 1}: first 200 ${first.cpuUs} µs CPU, p50 ${first.p50Ms} ms; ` +
          `next 1,000 ${warm.cpuUs} µs, p50 ${warm.p50Ms} ms`,
      );
    }
  }
} finally {
  await sim.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const [label, r] of results) {
  console.log(
    `${label}: median first 200 ${median(r.first)} µs CPU a call, p50 ${median(r.firstP50)} ms; ` +
      `next 1,000 ${median(r.warm)} µs, p50 ${median(r.warmP50)} ms`,
  );
}
