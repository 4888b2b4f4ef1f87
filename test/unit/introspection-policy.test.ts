import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../src/services/auth/authenticator.js';
import { useIntrospectionPolicy } from '../../src/transport/security/use-introspection-policy.js';

// INTROSPECTION=authenticated decides by how the caller was authenticated, never by its name: a caller named
// `anonymous` that presented credentials is authenticated, and the anonymous caller is not, whatever it is called.

const yoga = createYoga<{ caller: Caller }>({
  schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }),
  logging: false,
  context: ({ request }) => ({ caller: JSON.parse(request.headers.get('x-caller') ?? 'null') as Caller }),
  plugins: [useIntrospectionPolicy('authenticated')],
});

async function introspectAs(caller: Caller): Promise<unknown> {
  const res = await yoga.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-caller': JSON.stringify(caller) },
    body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
  });
  const json = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  return json.errors?.[0]?.extensions?.code ?? json.data;
}

describe('INTROSPECTION=authenticated', () => {
  it.each([
    ['an API key', { name: 'anonymous', authenticatedBy: 'apikey' }],
    ['a JWT', { name: 'anonymous', authenticatedBy: 'jwt' }],
    ['a JWT', { name: 'user-42', authenticatedBy: 'jwt' }],
  ] as const)('allows a caller authenticated by %s (%o)', async (_how, caller) => {
    expect(await introspectAs(caller)).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('refuses the caller of AUTH_MODE=none, whatever its name', async () => {
    for (const name of ['anonymous', 'alice']) {
      expect(await introspectAs({ name, authenticatedBy: 'none' })).toBe('INTROSPECTION_DISABLED');
    }
  });
});
