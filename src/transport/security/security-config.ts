import { z } from 'zod';
import { emptyToUndefined } from '../../lib/empty-to-undefined.js';

// The hardening variables, spread into config.ts's schema so that a bad value stops start-up with the same one line.

const limit = (min: number, max: number, fallback: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).default(fallback));

const originList = z.string().superRefine((v, ctx) => {
  for (const entry of splitList(v)) {
    if (!isOrigin(entry)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be origins like https://app.example.com separated by commas ("${entry}" is not one)`,
      });
      return;
    }
  }
});

export const securityEnvShape = {
  MAX_BODY_BYTES: limit(1024, 10 * 1024 * 1024, 100 * 1024),
  MAX_DOCUMENT_LENGTH: limit(100, 1_000_000, 10_000),
  MAX_QUERY_DEPTH: limit(1, 100, 10),
  MAX_QUERY_COST: limit(1, 1_000_000, 5_000),
  MAX_TOKENS: limit(10, 100_000, 2_000),
  MAX_ALIASES: limit(0, 1_000, 15),
  MAX_DIRECTIVES: limit(0, 1_000, 10),
  MAX_TYPENAME_FIELDS: limit(0, 1_000, 20),
  CORS_ORIGINS: z.preprocess(emptyToUndefined, originList.optional()),
  INTROSPECTION: z.preprocess(emptyToUndefined, z.enum(['on', 'authenticated', 'off']).default('on')),
  PERSISTED_OPERATIONS: z.preprocess(emptyToUndefined, z.enum(['off', 'allow', 'only']).default('off')),
  PERSISTED_OPERATIONS_MANIFEST: z.preprocess(emptyToUndefined, z.string().optional()),
};

type SecurityEnv = z.output<z.ZodObject<typeof securityEnvShape>>;

export type IntrospectionMode = 'on' | 'authenticated' | 'off';
export type PersistedOperationsMode = 'off' | 'allow' | 'only';

export interface SecurityConfig {
  /** Larger request bodies are answered 413 before parsing. */
  maxBodyBytes: number;
  /** Longest GraphQL document (characters) that is parsed at all. */
  maxDocumentLength: number;
  maxDepth: number;
  maxCost: number;
  maxTokens: number;
  maxAliases: number;
  maxDirectives: number;
  /** `__typename` selections per operation. */
  maxTypenameFields: number;
  /** Cross-origin callers allowed (exact origins); none: same origin only. */
  corsOrigins: string[];
  introspection: IntrospectionMode;
  persistedOperations: PersistedOperationsMode;
  /** The client preset's persisted-documents.json; unset: client/gql/persisted-documents.json of this project. */
  persistedOperationsManifest: string | undefined;
}

export function securityConfigFrom(e: SecurityEnv): SecurityConfig {
  return {
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxDocumentLength: e.MAX_DOCUMENT_LENGTH,
    maxDepth: e.MAX_QUERY_DEPTH,
    maxCost: e.MAX_QUERY_COST,
    maxTokens: e.MAX_TOKENS,
    maxAliases: e.MAX_ALIASES,
    maxDirectives: e.MAX_DIRECTIVES,
    maxTypenameFields: e.MAX_TYPENAME_FIELDS,
    corsOrigins: e.CORS_ORIGINS ? splitList(e.CORS_ORIGINS).map(normalizeOrigin) : [],
    introspection: e.INTROSPECTION,
    persistedOperations: e.PERSISTED_OPERATIONS,
    persistedOperationsManifest: e.PERSISTED_OPERATIONS_MANIFEST,
  };
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function isOrigin(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === normalizeOrigin(v);
  } catch {
    return false;
  }
}

function normalizeOrigin(v: string): string {
  return v.replace(/\/$/, '').toLowerCase();
}
