import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GraphQLSchema } from 'graphql';
import { createSchema } from 'graphql-yoga';

// The baselines serve the gateway's own SDL (schema.graphql) with the jobs held in memory: the same query, the same
// response bytes, none of the gateway's work (store, DataLoader, Relay ids, masking plugins, context).

export type StoredJob = Record<string, unknown> & { id: string };

export function inMemorySchema(jobs: readonly StoredJob[]): GraphQLSchema {
  const byId = new Map(jobs.map((job) => [job.id, job]));
  const typeDefs = readFileSync(fileURLToPath(new URL('../../schema.graphql', import.meta.url)), 'utf8');
  return createSchema({
    typeDefs,
    resolvers: {
      Query: {
        aiEditJob: (_root: unknown, { id }: { id: string }) => byId.get(id) ?? null,
        node: (_root: unknown, { id }: { id: string }) => byId.get(id) ?? null,
      },
      Node: { __resolveType: () => 'AiEditJob' },
    },
  });
}
