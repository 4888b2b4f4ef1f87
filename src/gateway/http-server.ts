import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import type { Logger } from '../lib/logger.js';
import { requestIdFrom, runInRequest } from '../lib/request-scope.js';
import type { GraphQLContext } from '../schema/context.js';
import type { FinalReadCache } from '../transport/final-read-cache.js';
import { isMetricsRequest, serveMetricsOnMainPort } from './metrics/metrics-endpoint.js';
import type { Readiness } from './readiness.js';
import { listenError } from './start-errors.js';

// One node:http port for everything: /ready here, reads of final jobs from the read cache, the rest (GraphQL,
// GraphiQL, /health) through Yoga. The graphql-ws server attaches to the same server for upgrades. Every request is
// served inside its request id (x-request-id in, or a fresh one), which the response echoes.

export interface HttpServerOptions {
  yoga: YogaServerInstance<Record<string, unknown>, GraphQLContext>;
  readCache: FinalReadCache;
  ready: () => Promise<Readiness>;
  logger: Logger;
  /** /metrics on this port, for the token only (src/gateway/metrics/metrics-endpoint.ts). */
  metrics?: { registry: Registry | undefined; token: string | undefined };
}

export function createHttpServer({ yoga, readCache, ready, logger, metrics }: HttpServerOptions): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    runInRequest(requestId, () => route(req, res));
  });

  function route(req: IncomingMessage, res: ServerResponse): void {
    if (isMetricsRequest(req)) {
      serveMetricsOnMainPort(metrics?.registry, metrics?.token, req, res, logger);
      return;
    }
    if (req.url === '/ready' && req.method === 'GET') {
      ready().then(
        ({ ok, body }) =>
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
        (err: unknown) => {
          logger.error({ err }, 'readiness check failed');
          res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"not ready"}');
        },
      );
      return;
    }
    if (readCache.accepts(req)) {
      readCache
        .serve(req, res, (tracker) => yoga.handle(req, res, tracker ? { readTracker: tracker } : {}))
        .catch((err: unknown) => {
          logger.error({ err }, 'read cache failed a request');
          res.destroy();
        });
      return;
    }
    void yoga.handle(req, res);
  }
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
