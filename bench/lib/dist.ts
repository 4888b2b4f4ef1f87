import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The gateway and the simulator run from dist/ in the benchmark, as `npm start` runs them (tsc's output on plain
// node), not from src/ through tsx, whose transform adds work to every function it names. BENCH_FROM_SOURCE=1 runs
// src/ instead. dist/ is rebuilt first when any file under src/ is newer than its output.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const fromSource = process.env.BENCH_FROM_SOURCE === '1';

/** The newest modification time of the .ts files under `dir`, and the oldest of the .js files under `out`. */
function stale(dir: string, out: string): boolean {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (stale(path, join(out, entry.name))) return true;
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const built = join(out, entry.name.replace(/\.ts$/, '.js'));
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(path).mtimeMs) return true;
    }
  }
  return false;
}

/** Rebuilds dist/ (tsc only, not the web app) when src/ changed since; a failed build fails the run. */
export function ensureDist(log: (message: string) => void): void {
  if (fromSource || !stale(join(ROOT, 'src'), join(ROOT, 'dist'))) return;
  log('dist/ is older than src/: building it (tsc -p tsconfig.build.json)');
  const built = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  if (built.status !== 0) throw new Error('tsc -p tsconfig.build.json failed');
}
