import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GraphQLSchema } from 'graphql';
import { createSchema } from 'graphql-yoga';

// The baselines serve the gateway's own SDL (schema.graphql) with one job held in memory: the same query, the same
// response bytes, none of the gateway's work (store, DataLoader, Relay ids, masking plugins, context).

export type StoredJob = Record<string, unknown> & { id: string };

export function inMemorySchema(job: StoredJob): GraphQLSchema {
  const typeDefs = readFileSync(fileURLToPath(new URL('../../schema.graphql', import.meta.url)), 'utf8');
  return createSchema({
    typeDefs,
    resolvers: {
      Query: {
        aiEditJob: (_root: unknown, { id }: { id: string }) => (id === job.id ? job : null),
        node: (_root: unknown, { id }: { id: string }) => (id === job.id ? job : null),
      },
      Node: { __resolveType: () => 'AiEditJob' },
    },
  });
}
