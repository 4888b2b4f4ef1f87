import { readFileSync } from 'node:fs';

// Sums a V8 .cpuprofile (BENCH_CPU_PROF=<dir> npm run bench -- --only <scenario>) by function: self time, and
// total time (self plus everything it called, each sample counted once per function however deep it recurses).
// Samples before the first one that hits `--from` (a function name) are left out, so that start-up does not count.
//   node --import tsx bench/tools/cpu-profile-summary.ts <file.cpuprofile> [--top 40] [--from submitAiEdit]
//   [--match <regexp>]   only rows whose name or file matches
//   [--under <fn>]       only samples with that function on the stack (what it spends its time on)

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const file = args[0];
if (!file) throw new Error('usage: cpu-profile-summary.ts <file.cpuprofile> [--top N] [--from fn] [--match re]');
const top = Number(option('--top') ?? 40);
const from = option('--from');
const match = option('--match') ? new RegExp(option('--match')!) : undefined;
const under = option('--under');

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const shortUrl = (url: string) => url.replace(/^.*\/(node_modules|dist|src)\//, '$1/').replace(/^node:/, '');
const keyOf = (node: ProfileNode) =>
  `${node.callFrame.functionName || '(anonymous)'} ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
const stackOf = (id: number): ProfileNode[] => {
  const stack: ProfileNode[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!);
  return stack;
};

const self = new Map<string, number>();
const total = new Map<string, number>();
let counted = 0;
let started = from === undefined;
for (let i = 0; i < profile.samples.length; i++) {
  const stack = stackOf(profile.samples[i]!);
  if (!started) started = stack.some((node) => node.callFrame.functionName === from);
  if (!started) continue;
  if (under !== undefined && !stack.some((node) => node.callFrame.functionName === under)) continue;
  const us = profile.timeDeltas[i] ?? 0;
  const leaf = stack[0]!;
  if (leaf.callFrame.functionName === '(idle)') continue;
  counted += us;
  self.set(keyOf(leaf), (self.get(keyOf(leaf)) ?? 0) + us);
  for (const key of new Set(stack.map(keyOf))) total.set(key, (total.get(key) ?? 0) + us);
}

const pct = (us: number) => `${((100 * us) / counted).toFixed(1).padStart(5)} %`;
const rows = (map: Map<string, number>) =>
  [...map.entries()]
    .filter(([key]) => !match || match.test(key))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
console.log(
  `${(counted / 1000).toFixed(0)} ms of busy samples${from ? ` from the first ${from}` : ''}` +
    `${under ? ` under ${under}` : ''}\n`,
);
console.log('self');
for (const [key, us] of rows(self)) console.log(`${pct(us)}  ${(us / 1000).toFixed(1).padStart(7)} ms  ${key}`);
console.log('\ntotal');
for (const [key, us] of rows(total)) console.log(`${pct(us)}  ${(us / 1000).toFixed(1).padStart(7)} ms  ${key}`);
