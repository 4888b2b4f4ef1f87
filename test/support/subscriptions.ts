import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { GraphQLResponse } from './gateway.js';

export function wsClient(gateway: { url: string }, connectionParams?: Record<string, unknown>): Client {
  return createClient({
    url: `${gateway.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams,
  });
}

/** Collects every event of one subscription until it completes or errors. */
export function collect<T = Record<string, any>>(client: Client, query: string, variables: Record<string, unknown>) {
  const events: GraphQLResponse<T>[] = [];
  const done = new Promise<{ events: GraphQLResponse<T>[]; error?: unknown }>((resolve) => {
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => events.push(value as GraphQLResponse<T>),
        error: (error) => resolve({ events, error }),
        complete: () => resolve({ events }),
      },
    );
  });
  return { events, done };
}

/** One subscription over Server-Sent Events (Yoga's distinct-connections mode), until the stream ends. */
export async function collectSse<T = Record<string, any>>(
  gateway: { url: string },
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; events: GraphQLResponse<T>[]; completed: boolean }> {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const events: GraphQLResponse<T>[] = [];
  let completed = false;
  const text = res.body ? await readAll(res.body) : '';
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n');
    const event = lines
      .find((l) => l.startsWith('event:'))
      ?.slice(6)
      .trim();
    const data = lines
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trim())
      .join('\n');
    if (event === 'complete') completed = true;
    else if (data) events.push(JSON.parse(data) as GraphQLResponse<T>);
  }
  return { status: res.status, events, completed };
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>)
    text += decoder.decode(chunk, { stream: true });
  return text;
}

export const UPDATED = /* GraphQL */ `
  subscription Updated($id: ID!) {
    aiEditJobUpdated(id: $id) { id status isFinal updatedAt errors { message } result { outputObjects { tmpUrl width height } } history { status } }
  }
`;
