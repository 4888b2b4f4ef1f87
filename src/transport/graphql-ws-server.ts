import type { IncomingMessage, Server } from 'node:http';
import { type ExecutionArgs, type ExecutionResult, GraphQLError, getOperationAST } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../lib/logger.js';
import type { GraphQLContext } from '../schema/context.js';
import {
  type SharedEvent,
  type SharedSubscriptionMember,
  SharedSubscriptions,
  sharedSubscriptionKey,
} from './shared-subscriptions.js';

// graphql-ws on the HTTP server's port and path, run through Yoga's envelop so that a WebSocket operation gets the
// same context factory, parsing, validation, error masking and plugins as one over HTTP or SSE. Subscriptions that
// are the same (caller, document, variables) share one execution and one serialization per event
// (src/transport/shared-subscriptions.ts); each subscriber's socket is then written here, bypassing graphql-ws's per-message
// JSON.stringify, with the very same payload string.

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
  /** The shared subscription executions (streamCount, memberCount). */
  readonly shared: SharedSubscriptions;
}

type EnvelopedRoot = {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;
  /** Set for subscription operations: the subscriber's id on its socket and what it shares with others. */
  share?: { id: string; key: string; socket: WebSocket };
};

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
  /** An error for the client, as it would come out of Yoga: masked, without HTTP-only extensions. */
  const refusal = (error: unknown): GraphQLError => {
    const masked = options.maskError?.(error, 'Unexpected error.') ?? new GraphQLError('Unexpected error.');
    const { http: _httpOnly, ...extensions } = (masked instanceof GraphQLError ? masked.extensions : {}) as Record<
      string,
      unknown
    >;
    return new GraphQLError(masked.message, { extensions });
  };
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
    }
    return outcome.joined ? member.stream(outcome.leave, refusal) : outcome.result;
  };

  const protocol = makeServer<Record<string, unknown>, { request: IncomingMessage; socket: WebSocket }>({
    connectionInitWaitTimeout: options.connectionInitWaitTimeoutMs,
    ...(options.onConnect ? { onConnect: (ctx) => options.onConnect!(ctx.connectionParams) } : {}),
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
    subscribe: (args) => {
      const root = args.rootValue as EnvelopedRoot;
      return (root.share ? subscribeShared(args, root, root.share) : root.subscribe(args)) as never;
    },
    onSubscribe: async (ctx, id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params,
      });
      let document: ReturnType<typeof parse>;
      let text: string;
      try {
        text = options.documentFor ? options.documentFor(params) : params.query;
        document = parse(text);
      } catch (error) {
        return [error as never];
      }
      const errors = validate(schema, document);
      if (errors.length > 0) return errors;
      let contextValue: Awaited<ReturnType<typeof contextFactory>>;
      try {
        contextValue = await contextFactory();
      } catch (error) {
        // Refuse this operation with an error the client can read instead of dropping the socket (4500).
        return [refusal(error)];
      }
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
    },
  });

  // graphql-ws's own `use/ws` adapter, less its console output: failures go to the logger, and close reasons never
  // carry an internal error's message.
  wss.on('connection', (socket, request) => {
    socket.once('error', (err) => {
      logger.warn({ err }, 'websocket error');
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            try {
              await handle(String(data));
            } catch (err) {
              logger.error({ err }, 'graphql-ws message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
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
    get clientCount() {
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

/**
 * One graphql-ws subscriber of a shared stream: writes `next` messages around the shared payload string straight to
 * its socket. Like a LatestValueQueue, it never queues more than one event: while a write is in flight, a newer
 * event replaces an unsent one, so a slow socket skips to the newest state instead of buffering every change.
 */
class SocketMember implements SharedSubscriptionMember {
  private readonly prefix: string;
  private writing = false;
  /**
   * Nothing is written before graphql-ws pulls this subscriber's stream: until then it may still drop the id (a
   * client `complete` while the subscription was starting), and a frame under that id could reach a new
   * subscription that reuses it.
   */
  private pulled = false;
  private unsent: string | undefined;
  private finishing = false;
  private closed = false;
  private settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  private readonly ended: Promise<void>;

  constructor(
    private readonly socket: WebSocket,
    id: string,
  ) {
    this.prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
    this.ended = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // graphql-ws reports a failure by itself; nobody may be awaiting this one yet.
    this.ended.catch(() => undefined);
  }

  next(event: SharedEvent): void {
    if (this.closed) return;
    if (this.writing || !this.pulled) this.unsent = event.json;
    else this.write(event.json);
  }

  complete(): void {
    this.finishing = true;
    if (this.pulled && !this.writing && this.unsent === undefined) this.finish();
  }

  /** graphql-ws follows the stream: write what came meanwhile (the newest event only), or end if it has ended. */
  private start(): void {
    if (this.pulled) return;
    this.pulled = true;
    if (this.closed) return;
    const unsent = this.unsent;
    this.unsent = undefined;
    if (unsent !== undefined) this.write(unsent);
    else if (this.finishing) this.finish();
  }

  fail(error: unknown): void {
    this.closed = true;
    this.settle?.reject(error);
  }

  /**
   * The stream graphql-ws follows for this subscriber: it yields nothing (events are written directly) and ends when
   * the shared stream has ended and the last event is written; its return (client `complete`, socket closed) leaves.
   */
  stream(leave: () => void, refusal: (error: unknown) => GraphQLError): AsyncGenerator<never> {
    const done = { value: undefined, done: true } as const;
    const stream = {
      next: () => {
        this.start();
        return this.ended.then(
          () => done,
          (error: unknown) => {
            leave();
            throw refusal(error);
          },
        );
      },
      return: async () => {
        this.closed = true;
        leave();
        this.finish();
        return done;
      },
      throw: async (error: unknown) => {
        this.closed = true;
        leave();
        throw error;
      },
      [Symbol.asyncIterator]: () => stream,
    };
    void this.ended.then(leave, () => undefined);
    return stream as unknown as AsyncGenerator<never>;
  }

  private write(json: string): void {
    if (this.socket.readyState !== this.socket.OPEN) {
      this.closed = true;
      return;
    }
    this.writing = true;
    this.socket.send(`${this.prefix}${json}}`, (error) => {
      this.writing = false;
      if (error) this.closed = true;
      const unsent = this.unsent;
      this.unsent = undefined;
      if (unsent !== undefined && !this.closed) this.write(unsent);
      else if (this.finishing) this.finish();
    });
  }

  private finish(): void {
    this.closed = true;
    this.settle?.resolve();
  }
}
