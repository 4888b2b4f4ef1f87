// Apollo Client 4 against the gateway: queries and mutations over HTTP, subscriptions over graphql-ws.
// Copy this file next to your generated client/gql (GraphQL Code Generator's client preset) and adjust the import.
import { ApolloClient, HttpLink, InMemoryCache, split } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';
import {
  AiEditJobUpdatedDocument,
  type AiEditJobUpdatedSubscription,
  ReadAiEditJobDocument,
  SubmitAiEditDocument,
  type SubmitAiEditInput,
} from '../client/gql/graphql.js';

export interface ApolloGatewayOptions {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`; subscriptions use the same path over ws(s). */
  url: string;
  /** With AUTH_MODE=apikey (or jwt): the key (or token), sent as `Authorization` and in graphql-ws connectionParams. */
  token?: string;
  /** Browsers have a global WebSocket; Node 20 has none, so pass `ws`'s (`import WebSocket from 'ws'`). */
  webSocketImpl?: unknown;
}

export function createApolloClient(options: ApolloGatewayOptions) {
  const authorization = options.token ? `Bearer ${options.token}` : undefined;
  // Apollo POSTs JSON, which needs no CSRF header. With `useGETForQueries: true` add
  // `headers: { 'apollo-require-preflight': 'true' }`, or the gateway answers 403 CSRF_PREVENTION.
  const httpLink = new HttpLink({ uri: options.url, headers: authorization ? { authorization } : {} });
  const ws = createClient({
    url: options.url.replace(/^http/, 'ws'),
    webSocketImpl: options.webSocketImpl,
    // The WebSocket handshake carries no Authorization header: the gateway reads it from connection_init.
    // graphql-ws retries a refusal of the credentials (close code 4403) five times, for some 30 s, by default.
    shouldRetry: (event) => isCloseEvent(event) && event.code !== 4403,
    connectionParams: authorization ? { authorization } : {},
  });
  const link = split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    new GraphQLWsLink(ws),
    httpLink,
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  return {
    client,
    async dispose() {
      client.stop();
      await ws.dispose();
    },
  };
}

export async function submitEdit(client: ApolloClient, input: SubmitAiEditInput) {
  const { data } = await client.mutate({ mutation: SubmitAiEditDocument, variables: { input } });
  return data!.submitAiEdit.job;
}

export async function readJob(client: ApolloClient, id: string) {
  const { data } = await client.query({ query: ReadAiEditJobDocument, variables: { id }, fetchPolicy: 'network-only' });
  return data?.aiEditJob ?? null;
}

type JobUpdate = AiEditJobUpdatedSubscription['aiEditJobUpdated'];

/** Follows a job until it is final (the gateway then completes the subscription); resolves with that last state. */
export function watchJob(client: ApolloClient, id: string, onUpdate?: (job: JobUpdate) => void): Promise<JobUpdate> {
  return new Promise((resolve, reject) => {
    let last: JobUpdate | undefined;
    client.subscribe({ query: AiEditJobUpdatedDocument, variables: { id } }).subscribe({
      next({ data, error }) {
        if (error) return reject(error);
        if (!data) return;
        last = data.aiEditJobUpdated;
        onUpdate?.(last);
      },
      error: reject,
      complete: () => (last?.isFinal ? resolve(last) : reject(new Error(`job ${id}: ended before a final state`))),
    });
  });
}

function isCloseEvent(event: unknown): event is { code: number } {
  return typeof event === 'object' && event !== null && typeof (event as { code?: unknown }).code === 'number';
}
