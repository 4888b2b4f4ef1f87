import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

// Sums a V8 .cpuprofile's self time (or, with `--inclusive`, total time) by function (name, file, line), busiest first, as shares of busy time (idle and
// program excluded from the denominator, listed apart). `--top <n>` rows (default 40); several files are summed.
// `--by-module`: by package, file of ours or Node module instead of by function.
// The window: `--last <s>`, the profile's last s seconds; `--after <name>`, from the last sample in a function of
// that name (`name@file.js` for one file's: `subscribeShared`, graphql-ws's subscribe, ends when everyone has
// subscribed); `--until <name>`, to the last sample in one (`finish@graphql-ws-member.js`: the walk's last
// completions). `--within <name>`: only samples with that function on the stack.
//
//   node --import tsx bench/tools/profile-self-time.ts --after subscribeShared --until finish@graphql-ws-member.js <file.cpuprofile>...

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  args.splice(i, 2);
  return value;
};
const lastS = option('--last', Number.POSITIVE_INFINITY);
const top = option('--top', 40);
const flag = (name: string) => {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const inclusive = flag('--inclusive');
/** `--by-module`: self time summed by where the code lives (a package, a file of ours, a Node module), not by function. */
const byModule = flag('--by-module');
const textOption = (name: string) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
};
const after = textOption('--after');
const within = textOption('--within');
/** `--categories a,b@file.js,…`: each sample counted once, for the outermost of these on its stack (else `other`). */
const categories = textOption('--categories')?.split(',');
const until = textOption('--until');

/** A package under node_modules, a file of ours from dist/ or src/, a Node module, or V8's own entry by its name. */
function moduleOf(frame: CallFrame): string {
  const { url } = frame;
  if (!url) return frame.functionName || '(anonymous)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/(dist|src)\/(.+)$/.exec(url);
  if (ours) return ours[2]!;
  if (url.startsWith('node:')) return url;
  return url.startsWith('wasm://') ? "wasm (undici's llhttp)" : basename(url);
}

const selfUs = new Map<string, number>();
let busyUs = 0;
let idleUs = 0;
for (const file of args) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const keyOf = (frame: CallFrame) =>
    byModule
      ? moduleOf(frame)
      : `${frame.functionName || '(anonymous)'}${frame.url ? ` ${basename(frame.url)}:${frame.lineNumber + 1}` : ''}`;
  const times: number[] = [];
  let t = profile.startTime;
  for (const dt of profile.timeDeltas) times.push((t += dt));
  // `name` or `name@file` (the file's base name), since names such as `pump` recur.
  const lastIn = (spec: string | undefined) => {
    const [name, fileName] = (spec ?? '').split('@');
    let found = -1;
    profile.samples.forEach((id, i) => {
      const frame = byId.get(id);
      if (frame && frame.functionName === name && (!fileName || basename(frame.url) === fileName)) found = times[i]!;
    });
    return found;
  };
  const from = Math.max(profile.endTime - lastS * 1e6, after ? lastIn(after) : 0);
  const to = until ? lastIn(until) : Number.POSITIVE_INFINITY;
  console.log(`${basename(file)}: window ${((Math.min(to, profile.endTime) - from) / 1e6).toFixed(1)} s`);
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    if (times[i]! < from || times[i]! > to) return;
    const frame = byId.get(id)!;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += dt;
      return;
    }
    if (within) {
      const [name, fileName] = within.split('@');
      let inside = false;
      for (let node: number | undefined = id; node !== undefined && !inside; node = parentOf.get(node)) {
        const f = byId.get(node)!;
        inside = f.functionName === name && (!fileName || basename(f.url) === fileName);
      }
      if (!inside) return;
    }
    busyUs += dt;
    if (categories) {
      let found = 'other';
      if (name === '(garbage collector)') found = 'GC';
      for (let node: number | undefined = id; node !== undefined; node = parentOf.get(node)) {
        const f = byId.get(node)!;
        const hit = categories.find((c) => {
          const [n, file] = c.split('@');
          return (f.functionName || '(anonymous)') === n && (!file || basename(f.url) === file);
        });
        if (hit) found = hit; // the outermost one wins
      }
      selfUs.set(found, (selfUs.get(found) ?? 0) + dt);
      return;
    }
    if (!inclusive) {
      selfUs.set(keyOf(frame), (selfUs.get(keyOf(frame)) ?? 0) + dt);
      return;
    }
    // Inclusive: every function on the sample's stack, once however often it recurs.
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parentOf.get(node)) {
      const key = keyOf(byId.get(node)!);
      if (seen.has(key)) continue;
      seen.add(key);
      selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    }
  });
}
const rows = [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, top);
console.log(`busy ${(busyUs / 1000).toFixed(0)} ms, idle ${(idleUs / 1000).toFixed(0)} ms`);
for (const [key, us] of rows)
  console.log(`${((us / busyUs) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(1).padStart(8)} ms  ${key}`);
