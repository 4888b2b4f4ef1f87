import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { gql, startTestGateway } from './support/gateway.js';

// Validation is cached per document (src/transport/use-validation-cache.ts): a document refused once must be refused
// the same way every time it comes again, over HTTP and graphql-ws alike, and a valid one keep running.

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startTestGateway({ env: { MAX_QUERY_DEPTH: '4', MAX_TYPENAME_FIELDS: '2' } });
});
afterAll(async () => {
  await gateway?.stop();
});

describe('cached validation', () => {
  const refused: [string, string, string | undefined][] = [
    ['an unknown field', '{ nope }', undefined],
    ['a document over MAX_QUERY_DEPTH', '{ aiEditJobs { edges { node { request { output { format } } } } } }', 'depth'],
    ['a document over MAX_TYPENAME_FIELDS', '{ a: __typename b: __typename c: __typename }', 'typename'],
  ];
  for (const [name, query, limit] of refused) {
    it(`${name} is refused the same way each time`, async () => {
      const answers = [await gql(gateway, query), await gql(gateway, query), await gql(gateway, query)];
      expect(answers[0]!.errors?.length).toBeGreaterThan(0);
      expect(answers[0]!.data).toBeUndefined();
      if (limit) expect(answers[0]!.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit });
      expect(answers[1]).toEqual(answers[0]);
      expect(answers[2]).toEqual(answers[0]);
    });
  }

  it('a valid document keeps running, its own answer each time', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await gql(gateway, '{ __typename viewer { authenticatedBy } }')).toEqual({
        data: { __typename: 'Query', viewer: { authenticatedBy: 'NONE' } },
      });
    }
  });
});
