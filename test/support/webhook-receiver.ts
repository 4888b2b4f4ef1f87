import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

// A caller's webhook endpoint on loopback: records every POST and answers with the statuses it is told to, in turn
// (then `fallback`). `hang` keeps requests open without an answer (until close).

export interface ReceivedWebhook {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedWebhook[];
  /** Statuses for the next requests, in order; `'hang'` never answers. */
  answer(...statuses: (number | 'hang')[]): void;
  fallback: number | 'hang';
  close(): Promise<void>;
}

export async function startWebhookReceiver(port = 0): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const queue: (number | 'hang')[] = [];
  const state = { fallback: 204 as number | 'hang' };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        at: Date.now(),
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const status = queue.length > 0 ? queue.shift()! : state.fallback;
      if (status === 'hang') return;
      res.writeHead(status).end();
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const bound = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${bound}/hook`,
    port: bound,
    received,
    answer: (...statuses) => queue.push(...statuses),
    get fallback() {
      return state.fallback;
    },
    set fallback(value) {
      state.fallback = value;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
