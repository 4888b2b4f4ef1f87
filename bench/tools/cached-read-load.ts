import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDist } from '../lib/dist.js';
import { closedLoop, gql } from '../lib/http.js';
import { READ, SUBMIT, smallEdit } from '../lib/queries.js';
import { startGatewayChild, startSimulatorChild } from '../lib/stack.js';
import { sleep } from '../lib/stats.js';

// One gateway, one final job, reads of it for N seconds (from the read cache, or with `nocache` through the whole
// pipeline): the gateway's CPU per read and the load generator's share of its core, for iterating on the read path
// without the whole reads scenario. BENCH_CPU_PROF=<dir> writes the gateway's profile (bench/tools/profile-summary.ts
// reads it). Run it pinned like the benchmark: flock /tmp/bench.lock taskset -c 1 npx tsx bench/tools/cached-read-load.ts [seconds] [nocache]
const seconds = Number(process.argv[2] ?? 10);
const noCache = process.argv[3] === 'nocache';
ensureDist(console.log);
const sim = await startSimulatorChild({ stepMs: 0 });
const dir = mkdtempSync(join(tmpdir(), 'cached-read-'));
const gw = await startGatewayChild(sim.info.url, {
  DATABASE_URL: `sqlite:${join(dir, 'jobs.db')}`,
  ...(noCache ? { READ_CACHE_MAX_BYTES: '0' } : {}),
});
try {
  const url = gw.info.url as string;
  const id = (await gql(url, SUBMIT, { input: smallEdit(sim.info.sampleUrl, 0) })).submitAiEdit.job.id as string;
  let job: any;
  for (let i = 0; i < 100; i++) {
    job = (await gql(url, READ, { id })).aiEditJob;
    if (job?.isFinal) break;
    await sleep(100);
  }
  if (!job?.isFinal) throw new Error(`the job did not finish: ${JSON.stringify(job)}`);
  const expected = JSON.stringify(job);
  const body = JSON.stringify({ query: READ, variables: { id }, operationName: 'Read' });
  const cpu0 = await gw.rpc('cpu');
  const r = await closedLoop({
    url: `${url}/graphql`,
    body,
    validate: (text) => {
      if (JSON.stringify(JSON.parse(text).data.aiEditJob) !== expected) throw new Error(`bad ${text.slice(0, 200)}`);
    },
    concurrency: 32,
    durationMs: seconds * 1000,
    warmupMs: 1000,
  });
  const cpu1 = await gw.rpc('cpu');
  const us = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
  console.log(
    `${Math.round(r.rps)} req/s, ${(us / r.total).toFixed(1)} µs CPU/req (user ${((cpu1.user - cpu0.user) / r.total).toFixed(1)}, sys ${((cpu1.system - cpu0.system) / r.total).toFixed(1)}), client cpu ${r.clientCpu.toFixed(2)}, failed ${r.failed} ${r.firstFailure ?? ''}`,
  );
} finally {
  await gw.stop();
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}
