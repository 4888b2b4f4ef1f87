import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga } from 'graphql-yoga';
import { inMemorySchema, type StoredJob } from './schema.js';

/** Baseline 1: graphql-yoga with its defaults (parse/validate caches on), no plugins, the jobs from memory. */
export async function startBareYoga(jobs: readonly StoredJob[]): Promise<{ url: string; close: () => Promise<void> }> {
  const yoga = createYoga({ schema: inMemorySchema(jobs), graphiql: false, landingPage: false, logging: false });
  const server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
