import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';

export interface TestScratch {
  /** Run after each test, last pushed first, each allowed to fail (a process may be dead, a server closed already). */
  readonly cleanups: (() => Promise<unknown>)[];
  /** A fresh directory, removed after the file's last test (a killed process may still have held files in it). */
  tempDir(): string;
}

/** Registers the file's cleanup hooks; call it once at the top level of a test file. */
export function useTestScratch(prefix: string): TestScratch {
  const dirs: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return {
    cleanups,
    tempDir() {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
  };
}
