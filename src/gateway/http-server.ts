import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import type { Logger } from '../lib/logger.js';
import { requestIdFrom, runInRequest } from '../lib/request-scope.js';
import type { GraphQLContext } from '../schema/context.js';
import { CLAID_WEBHOOK_PATH } from '../transport/claid-webhook.js';
import type { DirectJsonLane } from '../transport/direct-json-lane.js';
import type { FinalReadCache } from '../transport/final-read-cache.js';
import { isUploadRequest } from '../transport/upload-route.js';
import { isMetricsRequest, serveMetricsOnMainPort } from './metrics/metrics-endpoint.js';
import type { Readiness } from './readiness.js';
import { listenError } from './start-errors.js';

// One node:http port for everything: /ready, /metrics (with METRICS_TOKEN), uploads and Claid's webhooks here, reads of final
// jobs from the read cache, the rest (GraphQL, GraphiQL, /health) through Yoga. The graphql-ws server attaches to the
// same server for upgrades. Every request is served inside its request id (x-request-id in, or a fresh one), which
// the response echoes.

export interface HttpLimits {
  /** Time for a request's headers to arrive. @default 10000 */
  headersTimeoutMs: number;
  /** Time for a whole request (headers and body) to arrive; a WebSocket or an SSE stream is not cut by it. @default 30000 */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. @default 5000 */
  keepAliveTimeoutMs: number;
  /** Open connections (HTTP and WebSocket) at once; more are closed as they arrive. @default 10000 */
  maxConnections: number;
}

export interface HttpServerOptions {
  yoga: YogaServerInstance<Record<string, unknown>, GraphQLContext>;
  readCache: FinalReadCache;
  /** Plain JSON POSTs without Yoga's fetch adapters (src/transport/direct-json-lane.ts); absent, all go to Yoga. */
  directLane?: DirectJsonLane;
  ready: () => Promise<Readiness>;
  /** Uploaded images at their signed links (GET /uploads/<sha256>?…, src/transport/upload-route.ts). */
  uploads?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Claid's notifications (POST /webhooks/claid). */
  claidWebhook: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  logger: Logger;
  limits: HttpLimits;
  /** /metrics on this port, for the token only (src/gateway/metrics/metrics-endpoint.ts). */
  metrics?: { registry: Registry | undefined; token: string | undefined };
}

export function createHttpServer({ limits, ...routes }: HttpServerOptions): Server {
  const { logger } = routes;
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // node:http enforces both timeouts only when it sweeps its connections (every 30 s by default), which let a
      // header trickler stay for 88 s: sweep often enough that a cut comes close to the limit.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.headersTimeoutMs / 4)),
    },
    handler(routes),
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  logDroppedConnections(server, limits.maxConnections, logger);
  return server;
}

function handler(routes: Omit<HttpServerOptions, 'limits'>) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    runInRequest(requestId, () => route(routes, req, res, requestId));
  };
}

function route(
  { yoga, readCache, directLane, ready, claidWebhook, uploads, logger, metrics }: Omit<HttpServerOptions, 'limits'>,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): void {
  if (readCache.accepts(req)) {
    // First, as it takes /graphql alone (no route below): the read cache writes the request id with a stored answer,
    // or sets it before passing the request on.
    serveThroughCache({ yoga, readCache, directLane, logger }, req, res, requestId);
    return;
  }
  res.setHeader(REQUEST_ID_HEADER, requestId);
  if (isMetricsRequest(req)) {
    serveMetricsOnMainPort(metrics?.registry, metrics?.token, req, res, logger);
    return;
  }
  if (req.url?.split('?')[0] === CLAID_WEBHOOK_PATH) {
    void claidWebhook(req, res);
    return;
  }
  if (uploads && isUploadRequest(req)) {
    uploads(req, res);
    return;
  }
  if (req.url === '/ready' && req.method === 'GET') {
    ready().then(
      ({ ok, body }) => res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
      (err: unknown) => {
        logger.error({ err }, 'readiness check failed');
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"not ready"}');
      },
    );
    return;
  }
  if (directLane?.accepts(req)) {
    directLane.serve(req, res).catch((err: unknown) => {
      logger.error({ err }, 'the direct JSON lane failed a request');
      res.destroy();
    });
    return;
  }
  void yoga.handle(req, res);
}

const REQUEST_ID_HEADER = 'x-request-id';

function serveThroughCache(
  { yoga, readCache, directLane, logger }: Pick<HttpServerOptions, 'yoga' | 'readCache' | 'directLane' | 'logger'>,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): void {
  // The cache may answer from a body's 'end' event, outside this request's async scope: what it passes on, and what
  // it reports, re-enter the scope.
  readCache.serve(req, res, {
    ownHeaders: [REQUEST_ID_HEADER, requestId],
    pass: (tracker, body) =>
      runInRequest(requestId, () =>
        directLane?.accepts(req)
          ? directLane.serve(req, res, body, tracker)
          : yoga.handle(req, res, tracker ? { readTracker: tracker } : {}),
      ),
    fail: (err: unknown) =>
      runInRequest(requestId, () => {
        logger.error({ err }, 'read cache failed a request');
        res.destroy();
      }),
  });
}

/** One warning per burst of connections refused at MAX_CONNECTIONS, not one per connection. */
function logDroppedConnections(server: Server, maxConnections: number, logger: Logger): void {
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  server.on('drop', () => {
    dropped += 1;
    if (timer) return;
    logger.warn({ maxConnections }, 'connection refused: MAX_CONNECTIONS reached');
    timer = setTimeout(() => {
      timer = undefined;
      if (dropped > 1) logger.warn({ maxConnections, dropped }, 'connections refused: MAX_CONNECTIONS reached');
      dropped = 0;
    }, 10_000);
    timer.unref();
  });
}

/** Listens on PORT and HOST; resolves to the base URL, e.g. http://127.0.0.1:4000. */
export async function listenHttp(server: Server, port: number, host: string, variable = 'PORT'): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: unknown) => reject(listenError(variable, port, error));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shown}:${address.port}`;
}

/** Stops accepting and resolves once every in-flight request has been answered. */
export async function closeHttp(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    // Keep-alive sockets become idle as their last response is written; close them as they do.
    const sweeper = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(sweeper);
      resolve();
    });
    server.closeIdleConnections();
  });
}
