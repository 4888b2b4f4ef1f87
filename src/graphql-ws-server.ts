import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import type { GraphQLContext } from './context.js';
import type { Logger } from './logger.js';

// graphql-ws on the HTTP server's port and path, run through Yoga's envelop so that a WebSocket operation gets the
// same context factory, parsing, validation, error masking and plugins as one over HTTP or SSE.

export interface GraphQLWsOptions {
  path: string;
  /** Close a socket that has not sent connection_init by then (4408). */
  connectionInitWaitTimeoutMs: number;
  /** Ping every socket this often; one that misses a pong is dropped. */
  keepAliveMs: number;
  /** Largest message accepted (bytes); bigger frames close the socket (1009). */
  maxPayloadBytes: number;
  /** Refuses an upgrade before the handshake (e.g. by its Origin): false answers 403. */
  verifyUpgrade?: (request: IncomingMessage) => boolean;
  /** The document a subscribe message runs (trusted documents); throws a GraphQLError to refuse the operation. */
  documentFor?: (params: SubscribePayload) => string;
  /** Decides on connection_init whether the socket may stay (its connectionParams); false closes it with 4403. */
  onConnect?: (connectionParams: Readonly<Record<string, unknown>> | undefined) => Promise<boolean>;
  /** Turns an error thrown while building the context (e.g. credentials revoked since connecting) into one to send. */
  maskError?: (error: unknown, message: string) => Error;
}

export interface GraphQLWsServer {
  /** Completes every stream and closes every socket with 1001 (going away). */
  close(): Promise<void>;
  readonly clientCount: number;
}

type EnvelopedRoot = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

export function attachGraphQLWs(
  server: Server,
  yoga: YogaServerInstance<Record<string, unknown>, GraphQLContext>,
  logger: Logger,
  options: GraphQLWsOptions,
): GraphQLWsServer {
  const { verifyUpgrade } = options;
  const wss = new WebSocketServer({
    server,
    path: options.path,
    maxPayload: options.maxPayloadBytes,
    ...(verifyUpgrade ? { verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number) => void) => done(verifyUpgrade(info.req), 403) } : {}),
  });
  const serverCleanup = useServer<Record<string, unknown>, { request: unknown; socket: WebSocket }>(
    {
      connectionInitWaitTimeout: options.connectionInitWaitTimeoutMs,
      ...(options.onConnect ? { onConnect: (ctx) => options.onConnect!(ctx.connectionParams) } : {}),
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        let document;
        try {
          document = parse(options.documentFor ? options.documentFor(params) : params.query);
        } catch (error) {
          return [error as never];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        let contextValue;
        try {
          contextValue = await contextFactory();
        } catch (error) {
          // Refuse this operation with an error the client can read instead of dropping the socket (4500).
          const masked = options.maskError?.(error, 'Unexpected error.') ?? new GraphQLError('Unexpected error.');
          const { http: _httpOnly, ...extensions } = (masked instanceof GraphQLError ? masked.extensions : {}) as Record<string, unknown>;
          return [new GraphQLError(masked.message, { extensions })];
        }
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue,
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );

  // Protocol-level keep-alive: a dead peer is noticed and its subscriptions released.
  const alive = new WeakMap<WebSocket, boolean>();
  wss.on('connection', (socket) => {
    alive.set(socket, true);
    socket.on('pong', () => alive.set(socket, true));
  });
  const pinger = setInterval(() => {
    for (const socket of wss.clients) {
      if (alive.get(socket) === false) {
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, options.keepAliveMs);
  pinger.unref();
  wss.on('error', (err) => logger.warn({ err }, 'websocket server error'));

  return {
    get clientCount() {
      return wss.clients.size;
    },
    async close() {
      clearInterval(pinger);
      // graphql-ws closes every socket with 1001 (going away), which completes their subscriptions.
      await serverCleanup.dispose();
    },
  };
}
