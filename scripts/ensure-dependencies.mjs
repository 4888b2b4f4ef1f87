// Runs before the scripts that need the dev tools (lint, typecheck, test, schema:check, codegen, bench, dev, start).
// On a checkout where `npm ci` has not run, or after a pull that changed package-lock.json, `npm run lint` would
// otherwise stop at "biome: not found" and `npm run schema:check` at "tsx: not found". This installs what the lock
// pins first, as pnpm's `verify-deps-before-run=install` does. Plain Node and no packages: it runs before they exist.
//
//   node scripts/ensure-dependencies.mjs           install (npm ci, dev tools included) when node_modules is stale
//   node scripts/ensure-dependencies.mjs --check   only say; exit 1 when stale
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What package-lock.json pins that node_modules does not hold at that version, read from npm's own record of the
 * install (node_modules/.package-lock.json). Optional and platform-bound packages are not required: npm skips them
 * where they do not apply. Returns the missing paths (at most `limit`), or ['node_modules'] when nothing is installed.
 */
export function staleDependencies(root, limit = 5) {
  const wanted = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages ?? {};
  let installed;
  try {
    installed = JSON.parse(readFileSync(join(root, 'node_modules', '.package-lock.json'), 'utf8')).packages ?? {};
  } catch {
    return ['node_modules'];
  }
  const stale = [];
  for (const [path, entry] of Object.entries(wanted)) {
    if (!path.startsWith('node_modules/') || entry.optional || entry.os || entry.cpu || entry.libc) continue;
    const have = installed[path];
    if (!have || (entry.version !== undefined && have.version !== entry.version)) {
      stale.push(path.slice('node_modules/'.length));
      if (stale.length >= limit) break;
    }
  }
  return stale;
}

const root = process.cwd();
const stale = staleDependencies(root);
if (stale.length > 0) {
  const what = stale[0] === 'node_modules' ? 'node_modules is missing' : `node_modules lacks ${stale.join(', ')}`;
  if (process.argv.includes('--check')) {
    console.error(`${what}: run \`npm ci\`.`);
    process.exitCode = 1;
  } else {
    console.error(`${what}: running \`npm ci\` first (once; it takes a few minutes).`);
    // --include=dev: the scripts behind this hook are dev tools, so NODE_ENV=production must not leave them out.
    const npm = spawnSync('npm', ['ci', '--include=dev', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
    process.exitCode = npm.status ?? 1;
  }
}
