import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startSimulatorChild } from '../lib/stack.js';

// What the simulator takes to answer a submit when it has idled before it: Claid-shaped POSTs from a fresh client
// process on core 0 (where the gateway runs) to the simulator on core 1 (as in the benchmark), back to back and with
// an idle gap of 1 and 2 ms before each. Behind the gateway, every submit reaches a simulator that has idled for the
// rest of the gateway's work; the submit scenario's paced row measures the simulator that way (bench/README.md).
//   node --import tsx bench/tools/simulator-idle-gap.ts [rounds=3]

const rounds = Number(process.argv[2] ?? 3);

// The child is a file of its own in the temporary directory: undici by this checkout's path.
const undici = pathToFileURL(createRequire(import.meta.url).resolve('undici')).href;
const CHILD = `
import { Pool } from '${undici}';
import { setTimeout as sleep } from 'node:timers/promises';
const [url, key, gapMs] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const pool = new Pool(url, { connections: 1 });
const ms = [];
for (let i = 0; i < 450; i++) {
  const body = JSON.stringify({ input: 'storage://bench-bucket/input.jpg', output: { format: 'jpeg', number_of_images: 1 },
    options: { prompt: 'add a duck #' + i, model: 'v1', aspect_ratio: '1:1' } });
  if (gapMs > 0) await sleep(gapMs);
  const started = performance.now();
  const res = await pool.request({ path: '/v1/image/ai-edit', method: 'POST',
    headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' }, body });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error('simulator answered ' + res.statusCode);
  if (i >= 50) ms.push(performance.now() - started);
}
ms.sort((a, b) => a - b);
console.log(JSON.stringify({ p50: ms[ms.length >> 1], p90: ms[Math.floor(ms.length * 0.9)] }));
await pool.close();
`;

const childFile = join(tmpdir(), `simulator-idle-gap-${process.pid}.mjs`);
writeFileSync(childFile, CHILD);
const sim = await startSimulatorChild({ stepMs: 1500 });
const p50s = new Map<number, number[]>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const gapMs of [0, 1, 2]) {
      const args = ['-c', '0', process.execPath, childFile, sim.info.url, sim.info.apiKey, String(gapMs)];
      const out = execFileSync('taskset', args).toString();
      const { p50, p90 } = JSON.parse(out) as { p50: number; p90: number };
      (p50s.get(gapMs) ?? p50s.set(gapMs, []).get(gapMs)!).push(p50);
      console.log(
        `round ${round + 1}, idle ${gapMs} ms before each: p50 ${p50.toFixed(3)} ms, p90 ${p90.toFixed(3)} ms`,
      );
    }
  }
} finally {
  await sim.stop();
}
for (const [gapMs, xs] of p50s) {
  const sorted = [...xs].sort((a, b) => a - b);
  console.log(`idle ${gapMs} ms: median p50 ${sorted[sorted.length >> 1]!.toFixed(3)} ms`);
}
