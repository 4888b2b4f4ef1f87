import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  // graphql ships both ESM and CJS builds; Pothos and Yoga load the CJS one under Node, so tests must use the same
  // single copy or `instanceof` checks across packages fail.
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most suites wait on sockets, timers and child processes rather than the CPU: three files at a time keep a
    // 2-core machine busy without starving the timing-sensitive ones (the default here would be one).
    maxWorkers: 3,
  },
});
