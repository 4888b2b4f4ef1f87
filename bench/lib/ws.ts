import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

/** `count` graphql-ws clients, each connected and acknowledged (connection_ack) before this resolves. */
export async function connectAll(url: string, count: number): Promise<Client[]> {
  const clients: Client[] = [];
  const acked: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    acked.push(
      new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      }),
    );
    clients.push(
      createClient({
        url,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        keepAlive: 0,
        on: {
          connected: () => resolve(),
          closed: (event) => reject(new Error(`socket ${i} closed before ack: ${describeError(event)}`)),
        },
      }),
    );
  }
  try {
    await Promise.all(acked);
  } catch (error) {
    await Promise.all(clients.map((c) => c.dispose()));
    throw error;
  }
  return clients;
}

/** A graphql-ws error as text: GraphQL errors, a CloseEvent (code and reason), or an Error. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  const e = error as { code?: unknown; reason?: unknown } | undefined;
  if (e && typeof e === 'object' && 'code' in e) return `socket closed ${String(e.code)} ${String(e.reason ?? '')}`;
  return JSON.stringify(error).slice(0, 300);
}
