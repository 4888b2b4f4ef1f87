import type { IncomingMessage, Server } from 'node:http';
import { type DocumentNode, type ExecutionArgs, type ExecutionResult, GraphQLError, getOperationAST } from 'graphql';
import type { Context, SubscribePayload } from 'graphql-ws';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';
import { ErrorCode } from '../domain/errors.js';
import type { Logger } from '../lib/logger.js';
import { requestIdFrom, runInRequest } from '../lib/request-scope.js';
import type { GraphQLContext } from '../schema/context.js';
import { corkForThisTick, SocketMember } from './graphql-ws-member.js';
import { type MaskError, operationError } from './operation-error.js';
import { SharedSubscriptions, sharedSubscriptionKey } from './shared-subscriptions.js';

// graphql-ws on the HTTP server's port and path, run through Yoga's envelop so that a WebSocket operation gets the
// same context factory, parsing, validation, error masking and plugins as one over HTTP or SSE. Subscriptions that
// are the same (caller, document, variables) share one execution and one serialization per event
// (src/transport/shared-subscriptions.ts); each subscriber's socket is then written with the very same payload string
// (src/transport/graphql-ws-member.ts). Whatever refuses an operation, the refusal is that operation's own `error`
// message: graphql-ws closes the whole socket (4500) for anything thrown, or returned, that is not a GraphQLError.

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
  /** The document a subscribe message runs (trusted documents); throws to refuse the operation. */
  documentFor?: (params: SubscribePayload) => string;
  /** Decides on connection_init whether the socket may stay (its connectionParams); false closes it with 4403. */
  onConnect?: (connectionParams: Readonly<Record<string, unknown>> | undefined) => Promise<boolean>;
  /** Turns an error that refuses an operation (e.g. credentials revoked since connecting) into one to send. */
  maskError?: MaskError;
}

export interface GraphQLWsServer {
  /** Completes every stream and closes every socket with 1001 (going away). */
  close(): Promise<void>;
  /** The shared subscription executions (streamCount, memberCount). */
  readonly shared: SharedSubscriptions;
  /** Open WebSocket connections. */
  readonly connectionCount: number;
}

type EnvelopedRoot = {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;
  /** Set for subscription operations: the subscriber's id on its socket and what it shares with others. */
  share?: { id: string; key: string; socket: WebSocket };
};

type SocketExtra = { request: IncomingMessage; socket: WebSocket };
type SocketContext = Context<Record<string, unknown>, SocketExtra>;

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
    handleProtocols,
    ...(verifyUpgrade
      ? {
          verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number) => void) =>
            done(verifyUpgrade(info.req), 403),
        }
      : {}),
  });
  const shared = new SharedSubscriptions();
  const refusal = (error: unknown) => operationError(error, options.maskError);
  const subscribeShared = async (
    args: ExecutionArgs,
    root: EnvelopedRoot,
    share: NonNullable<EnvelopedRoot['share']>,
  ) => {
    const member = new SocketMember(share.socket, share.id);
    let outcome: Awaited<ReturnType<typeof shared.joinAs>>;
    try {
      outcome = await shared.joinAs(
        args.contextValue as GraphQLContext,
        share.key,
        (contextValue) => root.subscribe({ ...args, contextValue }),
        member,
      );
    } catch (error) {
      // RATE_LIMITED, or a start that threw: an answer for this operation alone. Throwing here would close the
      // socket, and every subscription on it.
      return { errors: [refusal(error)] };
    } finally {
      // graphql-ws keeps these arguments (the object `prepare` returned) for the subscription's life, for onNext
      // hooks that a shared member never triggers (its stream yields nothing; there are no such hooks). What only
      // joining needed goes now: the subscriber's own context, its enveloped functions and its key (a copy of
      // the args, made when starting, is what the shared execution keeps).
      args.contextValue = undefined;
      args.rootValue = undefined;
      root.share = undefined;
    }
    return outcome.joined ? member.stream(outcome.leave, refusal) : outcome.result;
  };

  /** What onSubscribe runs: throws whatever refuses the operation, and returns its errors when it does not validate. */
  const prepare = async (ctx: SocketContext, id: string, params: SubscribePayload) => {
    const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
      ...ctx,
      req: ctx.extra.request,
      socket: ctx.extra.socket,
      params,
    });
    const text = options.documentFor ? options.documentFor(params) : params.query;
    const document = parseDocument(parse, text);
    const errors = validate(schema, document);
    if (errors.length > 0) return errors.map(refusal);
    const contextValue = await contextFactory();
    const operation = getOperationAST(document, params.operationName)?.operation;
    const share =
      operation === 'subscription'
        ? {
            id,
            socket: ctx.extra.socket,
            key: sharedSubscriptionKey({
              owner: (contextValue as unknown as GraphQLContext).owner,
              document: text,
              operationName: params.operationName,
              variables: params.variables,
            }),
          }
        : undefined;
    return {
      schema,
      operationName: params.operationName,
      document,
      variableValues: params.variables,
      contextValue,
      rootValue: { execute, subscribe, share } satisfies EnvelopedRoot,
    };
  };

  const protocol = makeServer<Record<string, unknown>, SocketExtra>({
    connectionInitWaitTimeout: options.connectionInitWaitTimeoutMs,
    ...(options.onConnect ? { onConnect: (ctx) => options.onConnect!(ctx.connectionParams) } : {}),
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
    subscribe: (args) => {
      const root = args.rootValue as EnvelopedRoot;
      return (root.share ? subscribeShared(args, root, root.share) : root.subscribe(args)) as never;
    },
    onSubscribe: async (ctx, id, params) => {
      try {
        return await prepare(ctx, id, params);
      } catch (error) {
        return [refusal(error)];
      }
    },
  });

  // One request id per connection (its upgrade's x-request-id, or a fresh one), echoed on the 101 response: a
  // connection's operations share it, as its log lines then do.
  const requestIds = new WeakMap<IncomingMessage, string>();
  const requestIdOf = (request: IncomingMessage) => {
    let id = requestIds.get(request);
    if (id === undefined) requestIds.set(request, (id = requestIdFrom(request.headers['x-request-id'])));
    return id;
  };
  wss.on('headers', (headers, request) => headers.push(`x-request-id: ${requestIdOf(request)}`));

  // graphql-ws's own `use/ws` adapter, less its console output: failures go to the logger, and close reasons never
  // carry an internal error's message.
  wss.on('connection', (socket, request) => {
    const requestId = requestIdOf(request);
    socket.once('error', (err) => {
      logger.warn({ err, requestId }, 'websocket error');
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            corkForThisTick(socket);
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data) => {
            // Only the text goes into the handler, which lasts as long as the subscription it starts (graphql-ws
            // awaits the whole stream there): the frame's buffer need not.
            const text = String(data);
            return runInRequest(requestId, async () => {
              try {
                await handle(text);
              } catch (err) {
                logger.error({ err }, 'graphql-ws message handling failed');
                socket.close(CloseCode.InternalServerError, 'Internal server error');
              }
            });
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => void closed(code, String(reason)));
  });

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
    shared,
    get connectionCount() {
      return wss.clients.size;
    },
    async close() {
      clearInterval(pinger);
      // Going away (1001) completes every socket's subscriptions.
      for (const socket of wss.clients) socket.close(1001, 'Going away');
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** Parses as Yoga does over HTTP, where a syntax error carries GRAPHQL_PARSE_FAILED too. */
function parseDocument(parse: (source: string) => DocumentNode, text: string): DocumentNode {
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof GraphQLError && error.extensions.code === undefined) {
      Object.assign(error.extensions, { code: ErrorCode.GRAPHQL_PARSE_FAILED });
    }
    throw error;
  }
}
