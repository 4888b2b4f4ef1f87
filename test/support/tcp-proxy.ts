import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

// A loopback TCP proxy a test controls: cut() drops every connection and refuses new ones (as a database or
// network going away does), restore() lets them through again. `answerDelayMs` holds back what the target sends, so
// that a request has reached the target while its answer has not yet come back.

export interface TcpProxy {
  readonly port: number;
  readonly url: (scheme?: string) => string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(
  target: { host: string; port: number },
  options: { answerDelayMs?: number } = {},
): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      const delay = options.answerDelayMs ?? 0;
      if (delay === 0) client.write(chunk);
      else setTimeout(() => client.writable && client.write(chunk), delay);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const cutAll = (): void => {
    cut = true;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port,
    url: (scheme = 'http') => `${scheme}://127.0.0.1:${port}`,
    cut: cutAll,
    restore() {
      cut = false;
    },
    async close() {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
