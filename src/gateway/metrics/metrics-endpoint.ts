import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.js';

// /metrics is for the operator, not for callers: on its own port (METRICS_PORT, loopback unless METRICS_HOST says
// otherwise), and on the main port only for `Authorization: Bearer METRICS_TOKEN`.

export const METRICS_PATH = '/metrics';

export function isMetricsRequest(req: IncomingMessage): boolean {
  return req.method === 'GET' && (req.url === METRICS_PATH || req.url?.startsWith(`${METRICS_PATH}?`) === true);
}

/** Answers a /metrics request on the main port: the metrics for the token, 401 for anything else, 404 when off. */
export function serveMetricsOnMainPort(
  registry: Registry | undefined,
  token: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
): void {
  if (!registry || token === undefined) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
    return;
  }
  if (!bearerMatches(req.headers.authorization, token)) {
    res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('Unauthorized');
    return;
  }
  writeMetrics(registry, res, logger);
}

/** The METRICS_PORT server: /metrics and nothing else. */
export function createMetricsServer(registry: Registry, logger: Logger): Server {
  return createServer((req, res) => {
    if (isMetricsRequest(req)) writeMetrics(registry, res, logger);
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
  });
}

function writeMetrics(registry: Registry, res: ServerResponse, logger: Logger): void {
  registry.metrics().then(
    (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
    (err: unknown) => {
      logger.error({ err }, 'could not collect metrics');
      res.writeHead(500, { 'content-type': 'text/plain' }).end('could not collect metrics');
    },
  );
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Listens on METRICS_PORT; resolves to its base URL and the close to register. */
export async function listenMetrics(
  registry: Registry,
  where: { port: number; host: string },
  logger: Logger,
  listen: (server: Server, port: number, host: string, variable: string) => Promise<string>,
): Promise<{ url: string; server: Server }> {
  const server = createMetricsServer(registry, logger);
  return { url: await listen(server, where.port, where.host, 'METRICS_PORT'), server };
}
