import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// How long PostgreSQL takes to record a submit's answer (applyUpstreamState with the recorded job as its basis, as
// SubmitAnswers calls it), for one or more builds' PostgresJobStore, each in a fresh process and schema of its own,
// rounds alternating: 600 jobs recorded QUEUED and answered ACCEPTED one after another, the first 100 not timed.
//   node --import tsx bench/tools/postgres-submit-answer.ts <postgres-url> [rounds=2] label=path/to/dist ...

const [url, roundsArg, ...builds] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 2);
const versions = builds.map((arg) => arg.split('=') as [string, string]);
if (!url || !Number.isInteger(rounds) || versions.length === 0) {
  throw new Error(
    'usage: postgres-submit-answer.ts <postgres-url> <rounds> label=path/to/dist [label=path/to/dist ...]',
  );
}

const CHILD = `
const [dist, url, schema] = process.argv.slice(2);
const { PostgresJobStore } = await import(dist + '/services/store/postgres-job-store.js');
const store = new PostgresJobStore({ connectionString: url, schema });
await store.migrate();
const request = { input: 'storage://bench-bucket/input.jpg', options: { prompt: 'add a duck' } };
const ms = [];
for (let i = 0; i < 600; i++) {
  const at = new Date();
  const job = await store.insertQueued({ owner: 'bench', request, requestHash: 'h' + i, idempotencyKey: null, at, sendStartedAt: at });
  const started = performance.now();
  const state = { upstreamId: 1000 + i, status: 'ACCEPTED', createdAt: at, errors: [], result: null };
  await store.applyUpstreamState(job.id, state, new Date(), true, job);
  if (i >= 100) ms.push(performance.now() - started);
}
ms.sort((a, b) => a - b);
console.log(JSON.stringify({ p50: ms[250], p90: ms[450] }));
await store.close();
`;

const childFile = join(tmpdir(), `postgres-submit-answer-${process.pid}.mjs`);
writeFileSync(childFile, CHILD);
const stamp = Date.now().toString(36);
for (let round = 0; round < rounds; round++) {
  for (const [label, dist] of versions) {
    const schema = `bench_answer_${stamp}_${label.replace(/\W/g, '_')}_${round}`;
    const out = execFileSync(process.execPath, [childFile, resolve(dist), url, schema]).toString();
    const { p50, p90 } = JSON.parse(out) as { p50: number; p90: number };
    console.log(
      `${label} round ${round + 1}: a submit's answer recorded in p50 ${p50.toFixed(3)} ms, p90 ${p90.toFixed(3)} ms`,
    );
  }
}
console.log('(each run left its schema in the database: drop the bench_answer_* schemas when done)');
