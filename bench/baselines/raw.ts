import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DocumentNode, execute, type GraphQLError, parse, validate } from 'graphql';
import { inMemorySchema, type StoredJob } from './schema.js';

/** Baseline 2: node:http + graphql-js, parse and validate cached per query text, the jobs from memory. */
export async function startRawGraphQL(
  jobs: readonly StoredJob[],
): Promise<{ url: string; close: () => Promise<void> }> {
  const schema = inMemorySchema(jobs);
  const documents = new Map<string, { document?: DocumentNode; errors?: readonly GraphQLError[] }>();

  const prepare = (query: string) => {
    let entry = documents.get(query);
    if (!entry) {
      try {
        const document = parse(query);
        const errors = validate(schema, document);
        entry = errors.length > 0 ? { errors } : { document };
      } catch (error) {
        entry = { errors: [error as GraphQLError] };
      }
      if (documents.size > 1000) documents.clear();
      documents.set(query, entry);
    }
    return entry;
  };

  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  };

  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (req.method !== 'POST' || !req.url?.startsWith('/graphql'))
      return send(404, { errors: [{ message: 'Not Found' }] });
    readBody(req)
      .then(async (text) => {
        const { query, variables, operationName } = JSON.parse(text) as {
          query: string;
          variables?: Record<string, unknown>;
          operationName?: string;
        };
        const { document, errors } = prepare(query);
        if (!document) return send(400, { errors: errors!.map((e) => ({ message: e.message })) });
        const result = await execute({ schema, document, variableValues: variables, operationName, contextValue: {} });
        send(200, result);
      })
      .catch((error: unknown) => send(400, { errors: [{ message: String(error) }] }));
  });
  server.keepAliveTimeout = 60_000;
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
