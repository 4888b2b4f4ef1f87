// urql (@urql/core 6) against the gateway: queries and mutations over HTTP, subscriptions over graphql-ws or over
// graphql-sse. Copy this file next to your generated client/gql (the client preset) and adjust the import.
import { Client, cacheExchange, fetchExchange, type SubscriptionForwarder, subscriptionExchange } from '@urql/core';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import {
  AiEditJobUpdatedDocument,
  type AiEditJobUpdatedSubscription,
  ReadAiEditJobDocument,
  SubmitAiEditDocument,
  type SubmitAiEditInput,
} from '../client/gql/graphql.js';

export interface UrqlGatewayOptions {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`; subscriptions use the same path. */
  url: string;
  /** `ws` (graphql-ws, the default) or `sse` (graphql-sse, one HTTP stream per subscription). */
  subscriptions?: 'ws' | 'sse';
  /** With AUTH_MODE=apikey (or jwt): the key (or token), sent as `Authorization` and in graphql-ws connectionParams. */
  token?: string;
  /** Browsers have a global WebSocket; Node 20 has none, so pass `ws`'s (`import WebSocket from 'ws'`). */
  webSocketImpl?: unknown;
}

export function createUrqlClient(options: UrqlGatewayOptions) {
  const authorization = options.token ? `Bearer ${options.token}` : undefined;
  const headers: Record<string, string> = authorization ? { authorization } : {};
  let forwardSubscription: SubscriptionForwarder;
  let dispose: () => unknown;
  if (options.subscriptions === 'sse') {
    // Distinct-connections mode (the default, kept explicit): the gateway has no single-connection reservations.
    const sse = createSseClient({ url: options.url, singleConnection: false, headers });
    forwardSubscription = (request) => ({
      subscribe: (sink) => ({ unsubscribe: sse.subscribe({ ...request, query: request.query ?? '' }, sink) }),
    });
    dispose = () => sse.dispose();
  } else {
    const ws = createWsClient({
      url: options.url.replace(/^http/, 'ws'),
      webSocketImpl: options.webSocketImpl,
      // graphql-ws retries a refusal of the credentials (close code 4403) five times, for some 30 s, by default.
      shouldRetry: (event) => isCloseEvent(event) && event.code !== 4403,
      connectionParams: headers,
    });
    forwardSubscription = (request) => ({
      subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
    });
    dispose = () => ws.dispose();
  }
  const client = new Client({
    url: options.url,
    // urql sends queries as GET by default, without a preflight header: the gateway refuses that as a possible
    // cross-site request (403 CSRF_PREVENTION). POST them, or keep GET and add `'x-graphql-yoga-csrf': '1'` to headers.
    preferGetMethod: false,
    fetchOptions: () => ({ headers }),
    exchanges: [cacheExchange, fetchExchange, subscriptionExchange({ forwardSubscription })],
  });
  return { client, dispose: async () => void (await dispose()) };
}

export async function submitEdit(client: Client, input: SubmitAiEditInput) {
  const { data, error } = await client.mutation(SubmitAiEditDocument, { input }).toPromise();
  if (error) throw error;
  return data!.submitAiEdit.job;
}

export async function readJob(client: Client, id: string) {
  const { data, error } = await client
    .query(ReadAiEditJobDocument, { id }, { requestPolicy: 'network-only' })
    .toPromise();
  if (error) throw error;
  return data?.aiEditJob ?? null;
}

type JobUpdate = AiEditJobUpdatedSubscription['aiEditJobUpdated'];

/** Follows a job until it is final; resolves with that last state. */
export function watchJob(client: Client, id: string, onUpdate?: (job: JobUpdate) => void): Promise<JobUpdate> {
  return new Promise((resolve, reject) => {
    const { unsubscribe } = client.subscription(AiEditJobUpdatedDocument, { id }).subscribe(({ data, error }) => {
      // Results arrive asynchronously, so `unsubscribe` is assigned by the time this runs.
      if (error) {
        unsubscribe();
        return reject(error);
      }
      if (!data) return;
      onUpdate?.(data.aiEditJobUpdated);
      if (data.aiEditJobUpdated.isFinal) {
        unsubscribe();
        resolve(data.aiEditJobUpdated);
      }
    });
  });
}

function isCloseEvent(event: unknown): event is { code: number } {
  return typeof event === 'object' && event !== null && typeof (event as { code?: unknown }).code === 'number';
}
