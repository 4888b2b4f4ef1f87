import { buildGateway, type Gateway } from '../../../src/gateway/build-gateway.js';
import { loadConfig } from '../../../src/gateway/config.js';
import { createLogger, type Logger } from '../../../src/lib/logger.js';
import type { GraphQLResponse } from '../../support/gateway.js';

// The fast tier: a gateway that is built but never listens (no port, no simulator, no poller), with an in-memory
// SQLite store, called through yoga.fetch. The embedded simulator stays unstarted, so a resolver that reaches the
// upstream fails loudly instead of costing a call.

export interface InProcessGateway {
  gateway: Gateway;
  /** One GraphQL POST through yoga.fetch: the Response, as HTTP would carry it. */
  post(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<Response>;
  /** The same request's JSON body. */
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<T>>;
  /** Closes what the build opened (the store). */
  close(): Promise<void>;
}

export async function buildInProcessGateway(
  options: { env?: Record<string, string>; logger?: Logger } = {},
): Promise<InProcessGateway> {
  const config = loadConfig({
    DATABASE_URL: 'sqlite::memory:',
    LOG_LEVEL: 'silent',
    MAX_SUBMITS_PER_MINUTE: '100000',
    MAX_CREDITS_PER_DAY: '100000000',
    MAX_UNFINISHED_JOBS: '1000',
    ...options.env,
  });
  const gateway = await buildGateway(config, { logger: options.logger ?? createLogger('silent') });
  const { yoga } = gateway.internals;
  const post = (query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) =>
    Promise.resolve(
      yoga.fetch('http://in-process/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      }),
    );
  return {
    gateway,
    post,
    gql: async (query, variables, headers) => (await (await post(query, variables, headers)).json()) as any,
    close: () => gateway.stop(),
  };
}
