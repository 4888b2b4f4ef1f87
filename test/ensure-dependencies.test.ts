import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

// scripts/ensure-dependencies.mjs runs before the dev-tool scripts (npm's pre-hooks), so that `npm run lint` or
// `npm run schema:check` on a checkout without node_modules installs first instead of failing on "biome: not found".
const script = resolve('scripts/ensure-dependencies.mjs');
const run = promisify(execFile);
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function project(lockPackages: Record<string, object>, installed?: Record<string, object>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ensure-deps-'));
  dirs.push(dir);
  writeFileSync(
    join(dir, 'package-lock.json'),
    JSON.stringify({ lockfileVersion: 3, packages: { '': { name: 'p' }, ...lockPackages } }),
  );
  if (installed) {
    mkdirSync(join(dir, 'node_modules'));
    writeFileSync(join(dir, 'node_modules', '.package-lock.json'), JSON.stringify({ packages: installed }));
  }
  return dir;
}

async function check(cwd: string, args = ['--check']): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [script, ...args], { cwd, timeout: 60_000 });
    return { code: 0, stderr };
  } catch (error: any) {
    return { code: error.code, stderr: error.stderr };
  }
}

const lock = {
  'node_modules/tool': { version: '1.2.3', dev: true },
  'node_modules/tool/node_modules/inner': { version: '0.1.0', dev: true },
  'node_modules/only-on-windows': { version: '1.0.0', os: ['win32'], cpu: ['x64'] },
  'node_modules/maybe': { version: '2.0.0', optional: true },
};

describe('scripts/ensure-dependencies.mjs --check', () => {
  it('says node_modules is missing on a checkout where npm ci has not run', async () => {
    const result = await check(project(lock));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('node_modules is missing: run `npm ci`');
  });

  it('passes when every required package is installed at its locked version, optional and foreign ones aside', async () => {
    const installed = {
      'node_modules/tool': { version: '1.2.3' },
      'node_modules/tool/node_modules/inner': { version: '0.1.0' },
    };
    expect(await check(project(lock, installed))).toEqual({ code: 0, stderr: '' });
  });

  it('names what is missing or at another version (a pull that changed the lock; dev tools left out)', async () => {
    const installed = { 'node_modules/tool': { version: '1.2.2' } };
    const result = await check(project(lock, installed));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('node_modules lacks tool, tool/node_modules/inner');
  });

  it('finds this checkout installed (no false alarm on what npm ci really writes)', async () => {
    expect(await check(process.cwd())).toEqual({ code: 0, stderr: '' });
  });
});

describe('scripts/ensure-dependencies.mjs (install)', () => {
  it('runs npm ci when node_modules is missing, and then finds it current', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ensure-deps-'));
    dirs.push(dir);
    // A local file dependency: npm ci installs it with no registry.
    mkdirSync(join(dir, 'tiny'));
    writeFileSync(join(dir, 'tiny', 'package.json'), JSON.stringify({ name: 'tiny', version: '1.0.0' }));
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'p', version: '1.0.0', devDependencies: { tiny: 'file:./tiny' } }),
    );
    await run('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: dir, timeout: 60_000 });
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true });

    const env = { ...process.env, NODE_ENV: 'production' };
    const installing = await run(process.execPath, [script], { cwd: dir, env, timeout: 120_000 });
    expect(installing.stderr).toContain('node_modules is missing: running `npm ci` first');
    // Installed although it is a dev dependency and NODE_ENV=production would leave it out.
    expect(JSON.parse(readFileSync(join(dir, 'node_modules', 'tiny', 'package.json'), 'utf8')).name).toBe('tiny');
    expect(await check(dir)).toEqual({ code: 0, stderr: '' });
  }, 150_000);
});

describe('package.json', () => {
  it('runs the check before every script that needs the dev tools', () => {
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    const devTools = /^(tsx|vitest|biome|tsc|depcruise|graphql-codegen|vite)\b/;
    const needing = Object.keys(scripts).filter((name) => !name.startsWith('pre') && devTools.test(scripts[name]!));
    expect(needing).toEqual(expect.arrayContaining(['lint', 'schema:check', 'typecheck', 'test', 'codegen', 'bench']));
    // build runs inside npm ci (prepare), after the install: it needs no check.
    const unchecked = needing.filter((name) => name !== 'build' && name !== 'build:web');
    for (const name of unchecked) expect(scripts[`pre${name}`], name).toBe('node scripts/ensure-dependencies.mjs');
  });
});
