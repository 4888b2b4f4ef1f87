import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hasTaskset } from './lib/child.js';
import { ensureDist, fromSource } from './lib/dist.js';
import { machineInfo } from './lib/machine.js';
import type { Scenario } from './lib/scenario.js';
import { arrivals } from './scenarios/arrivals.js';
import { reads } from './scenarios/reads.js';
import { scaleOut } from './scenarios/scale-out.js';
import { submit } from './scenarios/submit.js';
import { subscriptions } from './scenarios/subscriptions.js';
import { upstream } from './scenarios/upstream.js';

// npm run bench [-- --quick] [-- --only <scenario>[,<scenario>]] [-- --verbose]
// Servers run in child processes pinned to core 0 (bench/server.ts); this process, the load generator, re-runs
// itself pinned to core 1. Results go to bench/results/<scenario>.json; a markdown summary goes to stdout.

const argv = process.argv.slice(2);
if (hasTaskset && !process.env.BENCH_PINNED) {
  const r = spawnSync(
    'taskset',
    ['-c', '1', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), ...argv],
    {
      stdio: 'inherit',
      env: { ...process.env, BENCH_PINNED: '1' },
    },
  );
  process.exit(r.status ?? 1);
}

const SCENARIOS: Record<string, Scenario> = { subscriptions, reads, submit, upstream, 'scale-out': scaleOut, arrivals };
const flag = (name: string) => argv.includes(`--${name}`);
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',').filter(Boolean) : Object.keys(SCENARIOS);
for (const name of only)
  if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
const quick = flag('quick');
const verbose = flag('verbose');
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });

const machine = machineInfo();
const out: string[] = [
  `# Benchmarks${quick ? ' (quick)' : ''}`,
  '',
  `${machine.cpus} × ${machine.cpuModel}, ${machine.totalMemMB} MB, Node ${machine.node}, Linux ${machine.kernel}, ${machine.date}; ` +
    (hasTaskset
      ? 'servers pinned to core 0, load generator to core 1 (taskset)'
      : 'taskset not found: processes not pinned'),
];
ensureDist((message) => process.stderr.write(`[bench] ${message}\n`));
out.push(
  '',
  `Gateway and simulator run from ${fromSource ? 'src/ through tsx (BENCH_FROM_SOURCE=1)' : 'dist/ on node, as npm start runs them'}.`,
);
let failures = 0;
for (const name of only) {
  const log = (message: string) =>
    process.stderr.write(`[${new Date().toISOString().slice(11, 19)} ${name}] ${message}\n`);
  const startedAt = new Date().toISOString();
  log(`start${quick ? ' (quick)' : ''}`);
  try {
    const { result, markdown } = await SCENARIOS[name]!({ quick, verbose, log });
    const file = `${resultsDir}${name}.json`;
    writeFileSync(
      file,
      `${JSON.stringify({ scenario: name, quick, machine: { ...machineInfo(), pinned: hasTaskset }, startedAt, finishedAt: new Date().toISOString(), ...result }, null, 2)}\n`,
    );
    out.push('', `## ${name}`, '', markdown);
    log(`done -> ${file}`);
  } catch (error) {
    failures++;
    log(`FAILED: ${error instanceof Error ? error.stack : String(error)}`);
    out.push('', `## ${name}`, '', `FAILED: ${error instanceof Error ? error.message : String(error)}`);
  }
}
const summary = `${out.join('\n')}\n`;
writeFileSync(`${resultsDir}summary${quick ? '-quick' : ''}.md`, summary);
process.stdout.write(summary);
process.exit(failures > 0 ? 1 : 0);
