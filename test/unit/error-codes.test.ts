import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  type ErrorCode,
  GatewayError,
  type GatewayErrorCode,
  StoreUnavailableError,
} from '../../src/domain/errors.js';
import { createLogger } from '../../src/lib/logger.js';
import { createErrorMasker } from '../../src/schema/error-masking.js';
import { ForbiddenError, UnauthenticatedError } from '../../src/services/auth/authenticator.js';
import { createHardening } from '../../src/transport/security/hardening.js';
import type { SecurityConfig } from '../../src/transport/security/security-config.js';
import { sha256 } from '../../src/transport/security/use-persisted-operations.js';
import { useStoreOutageStatus } from '../../src/transport/use-store-outage-status.js';

// The one list of client-facing codes is what the README's error table shows, so it must be complete and every
// status in it must be the one a client really gets. Each code is produced here in process, through Yoga with the
// gateway's own error masker and hardening plugins, and its answer compared with the list.

const logger = createLogger('silent');
const dir = mkdtempSync(join(tmpdir(), 'error-codes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TRUSTED = '{ ok }';
const manifest = join(dir, 'persisted-documents.json');
writeFileSync(manifest, JSON.stringify({ [`sha256:${sha256(TRUSTED)}`]: TRUSTED }));

const security = (overrides: Partial<SecurityConfig> = {}): SecurityConfig => ({
  maxBodyBytes: 2048,
  maxDocumentLength: 500,
  maxDepth: 10,
  maxCost: 5000,
  maxTokens: 2000,
  maxAliases: 15,
  maxDirectives: 10,
  maxTypenameFields: 20,
  corsOrigins: [],
  introspection: 'on',
  persistedOperations: 'off',
  persistedOperationsManifest: manifest,
  ...overrides,
});

/** Throws the GatewayError a service would raise for `code`. */
function serviceError(code: GatewayErrorCode): GatewayError {
  if (code === 'UNAUTHENTICATED') return new UnauthenticatedError();
  if (code === 'FORBIDDEN') return new ForbiddenError('no caller');
  if (code === 'STORE_UNAVAILABLE') return new StoreUnavailableError(new Error('connect ECONNREFUSED'));
  return new GatewayError(code, `failed with ${code}`);
}

function yogaWith(config: SecurityConfig) {
  const hardening = createHardening(config, logger);
  return createYoga({
    schema: createSchema({
      typeDefs: 'type Query { ok: Boolean, fail(code: String!): Boolean, crash: Boolean }',
      resolvers: {
        Query: {
          ok: () => true,
          fail: (_: unknown, { code }: { code: GatewayErrorCode }) => {
            throw serviceError(code);
          },
          crash: () => {
            throw new Error('database exploded');
          },
        },
      },
    }),
    logging: false,
    maskedErrors: { maskError: createErrorMasker(logger), isDev: false },
    ...hardening.yogaOptions,
    plugins: [...hardening.yogaOptions.plugins, useStoreOutageStatus()],
  });
}

const JSON_POST = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };

async function answer(
  yoga: ReturnType<typeof yogaWith>,
  body: string | Record<string, unknown> | Record<string, unknown>[],
  headers: Record<string, string> = JSON_POST,
): Promise<{ status: number; codes: unknown[] }> {
  const res = await yoga.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: { host: 'gateway.test', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const json = (await res.json()) as { errors?: { extensions?: { code?: unknown } }[] };
  return { status: res.status, codes: (json.errors ?? []).map((e) => e.extensions?.code) };
}

const open = yogaWith(security());
const trustedOnly = yogaWith(security({ persistedOperations: 'only' }));
const noIntrospection = yogaWith(security({ introspection: 'off' }));

/** How to make the gateway answer with each code; typed by the list, so a new code needs a way here too. */
const produce: Record<ErrorCode, () => Promise<{ status: number; codes: unknown[] }>> = {
  BAD_USER_INPUT: () => answer(open, { query: '{ fail(code: "BAD_USER_INPUT") }' }),
  NOT_FOUND: () => answer(open, { query: '{ fail(code: "NOT_FOUND") }' }),
  IDEMPOTENCY_KEY_REUSED: () => answer(open, { query: '{ fail(code: "IDEMPOTENCY_KEY_REUSED") }' }),
  UNAUTHENTICATED: () => answer(open, { query: '{ fail(code: "UNAUTHENTICATED") }' }),
  FORBIDDEN: () => answer(open, { query: '{ fail(code: "FORBIDDEN") }' }),
  RATE_LIMITED: () => answer(open, { query: '{ fail(code: "RATE_LIMITED") }' }),
  UPSTREAM_UNAUTHORIZED: () => answer(open, { query: '{ fail(code: "UPSTREAM_UNAUTHORIZED") }' }),
  UPSTREAM_FORBIDDEN: () => answer(open, { query: '{ fail(code: "UPSTREAM_FORBIDDEN") }' }),
  UPSTREAM_PAYMENT_REQUIRED: () => answer(open, { query: '{ fail(code: "UPSTREAM_PAYMENT_REQUIRED") }' }),
  UPSTREAM_RATE_LIMITED: () => answer(open, { query: '{ fail(code: "UPSTREAM_RATE_LIMITED") }' }),
  UPSTREAM_VALIDATION: () => answer(open, { query: '{ fail(code: "UPSTREAM_VALIDATION") }' }),
  UPSTREAM_UNAVAILABLE: () => answer(open, { query: '{ fail(code: "UPSTREAM_UNAVAILABLE") }' }),
  UPSTREAM_OUTCOME_UNKNOWN: () => answer(open, { query: '{ fail(code: "UPSTREAM_OUTCOME_UNKNOWN") }' }),
  STORE_UNAVAILABLE: () => answer(open, { query: '{ fail(code: "STORE_UNAVAILABLE") }' }),
  INTERNAL_SERVER_ERROR: () => answer(open, { query: '{ crash }' }),
  QUERY_TOO_COMPLEX: () => answer(open, { query: `{ ok ${'#'.repeat(600)}\n }` }),
  CSRF_PREVENTION: () => answer(open, '{"query":"{ ok }"}', { 'content-type': 'text/plain' }),
  ORIGIN_NOT_ALLOWED: () => answer(open, { query: '{ ok }' }, { ...JSON_POST, origin: 'https://evil.example' }),
  INTROSPECTION_DISABLED: () => answer(noIntrospection, { query: '{ __schema { queryType { name } } }' }),
  PERSISTED_QUERY_NOT_FOUND: () => answer(trustedOnly, { documentId: sha256('{ nothing }') }),
  PERSISTED_QUERY_ONLY: () => answer(trustedOnly, { query: TRUSTED }),
  REQUEST_ENTITY_TOO_LARGE: () => answer(open, { query: '{ ok }', variables: { pad: 'x'.repeat(4096) } }),
  BAD_REQUEST: () => answer(open, [{ query: '{ ok }' }, { query: '{ ok }' }]),
  GRAPHQL_PARSE_FAILED: () => answer(open, { query: '{ ok' }),
  GRAPHQL_VALIDATION_FAILED: () => answer(open, { query: '{ nope }' }),
};

describe('the client-facing error codes', () => {
  it('are the codes the README documents, each with a one-line meaning', () => {
    expect(Object.keys(ERROR_CODES)).toEqual(Object.keys(produce));
    for (const [code, { meaning }] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z_]+$/);
      expect(meaning, code).toMatch(/^\S.{10,119}\.$/);
      expect(meaning, code).not.toContain('\n');
    }
  });

  it.each(Object.keys(ERROR_CODES) as ErrorCode[])('%s is answered with the status the list gives', async (code) => {
    const { status, codes } = await produce[code]();
    expect(codes).toEqual([code]);
    expect(status).toBe(ERROR_CODES[code].httpStatus);
  });
});
