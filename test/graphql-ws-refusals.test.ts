import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../src/lib/logger.js';
import type { GraphQLContext } from '../src/schema/context.js';
import { createErrorMasker } from '../src/schema/error-masking.js';
import { attachGraphQLWs, type GraphQLWsServer } from '../src/transport/graphql-ws-server.js';
import { limitPlugins } from '../src/transport/security/document-limits.js';
import type { SecurityConfig } from '../src/transport/security/security-config.js';

// Whatever refuses a graphql-ws operation before it runs (the trusted-documents lookup, parsing, the document limits,
// validation, the context), the refusal is that operation's own `error` message: the socket and every other
// operation on it stay, and no HTTP-only extension (`extensions.http`) reaches the WebSocket client.

const logger = createLogger('silent');
const limits: SecurityConfig = {
  maxBodyBytes: 100 * 1024,
  maxDocumentLength: 200,
  maxDepth: 10,
  maxCost: 5000,
  maxTokens: 2000,
  maxAliases: 2,
  maxDirectives: 10,
  maxTypenameFields: 20,
  corsOrigins: [],
  introspection: 'on',
  persistedOperations: 'off',
  persistedOperationsManifest: undefined,
};

let server: Server;
let ws: GraphQLWsServer;
let url: string;

beforeAll(async () => {
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema: createSchema({ typeDefs: 'type Query { ok: Boolean }', resolvers: { Query: { ok: () => true } } }),
    logging: false,
    plugins: limitPlugins(limits),
    context: () => ({ owner: 'tester' }) as never,
  });
  server = createServer(yoga);
  ws = attachGraphQLWs(server, yoga, logger, {
    path: '/graphql',
    connectionInitWaitTimeoutMs: 5_000,
    keepAliveMs: 60_000,
    maxPayloadBytes: 100 * 1024,
    maskError: createErrorMasker(logger),
    documentFor: ({ query }) => {
      if (query === 'plain error') throw new Error('a lookup that failed for an internal reason');
      if (query === 'http error') {
        throw new GraphQLError('Not a trusted document.', {
          extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } },
        });
      }
      return query;
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
afterAll(async () => {
  await ws.close();
  await new Promise((resolve) => server.close(resolve));
});

interface Message {
  id?: string;
  type: string;
  payload?: any;
}

/** One socket: sends each operation in turn and gathers the messages for its id, then checks the socket is open. */
async function run(queries: string[]): Promise<{ answers: Message[][]; closeCode: number | undefined }> {
  const socket = new WebSocket(url, 'graphql-transport-ws');
  const messages: Message[] = [];
  let closeCode: number | undefined;
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Message));
  socket.on('close', (code) => (closeCode = code));
  await once(socket, 'open');
  socket.send(JSON.stringify({ type: 'connection_init' }));
  const settled = async (predicate: () => boolean) => {
    for (let i = 0; i < 200 && !predicate() && closeCode === undefined; i++)
      await new Promise((r) => setTimeout(r, 10));
  };
  await settled(() => messages.some((m) => m.type === 'connection_ack'));
  const answers: Message[][] = [];
  for (const [index, query] of queries.entries()) {
    const id = String(index + 1);
    socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
    await settled(() => messages.some((m) => m.id === id && (m.type === 'error' || m.type === 'complete')));
    answers.push(messages.filter((m) => m.id === id));
  }
  if (closeCode === undefined) {
    socket.close(1000);
    await once(socket, 'close');
  }
  return { answers, closeCode: closeCode === 1000 ? undefined : closeCode };
}

const OK = { id: '2', type: 'next', payload: { data: { ok: true } } };

describe('graphql-ws refusals before an operation runs', () => {
  it('a refusal that is not a GraphQLError is that operation’s masked error; the socket stays open', async () => {
    const { answers, closeCode } = await run(['plain error', '{ ok }']);
    expect(closeCode).toBeUndefined();
    expect(answers[0]).toEqual([
      {
        id: '1',
        type: 'error',
        payload: [
          {
            message: 'Unexpected error.',
            extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId: expect.any(String) },
          },
        ],
      },
    ]);
    expect(answers[1]).toEqual([OK, { id: '2', type: 'complete' }]);
  });

  it.each([
    ['the trusted-documents lookup', 'http error', 'PERSISTED_QUERY_NOT_FOUND'],
    ['the document-length limit', `{ ok ${'#'.repeat(300)}\n }`, 'QUERY_TOO_COMPLEX'],
    ['an alias limit', '{ a: ok b: ok c: ok }', 'QUERY_TOO_COMPLEX'],
    ['a syntax error', '{ ok', 'GRAPHQL_PARSE_FAILED'],
    ['a validation error', '{ nope }', 'GRAPHQL_VALIDATION_FAILED'],
  ])('a refusal by %s keeps its code and loses extensions.http', async (_by, query, code) => {
    const { answers, closeCode } = await run([query, '{ ok }']);
    expect(closeCode).toBeUndefined();
    const [refusal] = answers[0]!;
    expect(answers[0]).toHaveLength(1);
    expect(refusal).toMatchObject({ id: '1', type: 'error' });
    expect(refusal!.payload[0].extensions?.code).toBe(code);
    expect(JSON.stringify(refusal)).not.toMatch(/"http"/);
    expect(answers[1]).toEqual([OK, { id: '2', type: 'complete' }]);
  });
});
