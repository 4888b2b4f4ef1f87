import { readFileSync } from 'node:fs';

// Self time of a V8 .cpuprofile (node --cpu-prof, BENCH_CPU_PROF) by function and by file, as shares of busy time
// (idle excluded) inside a window of the profile: the busiest stretch of `seconds` by default, so start-up and
// teardown stay out. Usage: tsx bench/tools/profile-summary.ts <file.cpuprofile> [seconds] [top]

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, secondsArg, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [seconds] [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const windowUs = Number(secondsArg ?? 10) * 1e6;
const top = Number(topArg ?? 30);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

const times: number[] = [];
let t = profile.startTime;
for (const delta of profile.timeDeltas) times.push((t += delta));
const idle = (i: number) => byId.get(profile.samples[i]!)!.callFrame.functionName === '(idle)';

// The window of `windowUs` with the most busy samples (two pointers over the sample times).
let best = 0;
let bestStart = 0;
let busy = 0;
let lo = 0;
for (let hi = 0; hi < times.length; hi++) {
  if (!idle(hi)) busy++;
  while (times[hi]! - times[lo]! > windowUs) if (!idle(lo++)) busy--;
  if (busy > best) {
    best = busy;
    bestStart = lo;
  }
}
const from = times[bestStart]!;
const to = from + windowUs;

const short = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\//, '')
    .replace(/.*\/dist\//, 'dist/');
const fnKey = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const fileKey = (n: Node) => short(n.callFrame.url) || n.callFrame.functionName;

const selfFn = new Map<string, number>();
const selfFile = new Map<string, number>();
let total = 0;
let idleUs = 0;
for (let i = 1; i < profile.samples.length; i++) {
  if (times[i]! < from || times[i]! > to) continue;
  const us = times[i]! - times[i - 1]!;
  const node = byId.get(profile.samples[i]!)!;
  if (node.callFrame.functionName === '(idle)') {
    idleUs += us;
    continue;
  }
  total += us;
  selfFn.set(fnKey(node), (selfFn.get(fnKey(node)) ?? 0) + us);
  selfFile.set(fileKey(node), (selfFile.get(fileKey(node)) ?? 0) + us);
}

const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
};
console.log(
  `window ${((from - profile.startTime) / 1e6).toFixed(1)}–${((to - profile.startTime) / 1e6).toFixed(1)} s: busy ${(total / 1000).toFixed(0)} ms, idle ${(idleUs / 1000).toFixed(0)} ms`,
);
show('self time by function', selfFn);
show('self time by file', selfFile);
