import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type Client, createClient } from 'graphql-ws';
import { operationOf } from './documents.js';
import { ApiError } from './errors.js';
import { GRAPHQL_PATH } from './graphql.js';

// One graphql-ws connection per API key; the page runs its one subscription over it. The key travels in
// connectionParams (a browser WebSocket cannot carry an Authorization header). graphql-ws reconnects on its own
// after a drop; `onState` says whether the feed is live so the page can show it.

export type FeedState = 'connecting' | 'live' | 'offline';

export interface LiveFeed {
  close(): void;
}

export function openLiveFeed<Result, Variables extends Record<string, unknown>>(options: {
  document: TypedDocumentNode<Result, Variables>;
  variables: Variables;
  apiKey: string;
  onData: (data: Result) => void;
  onError: (error: ApiError) => void;
  onState: (state: FeedState) => void;
}): LiveFeed {
  const url = new URL(GRAPHQL_PATH, location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const client: Client = createClient({
    url: url.href,
    connectionParams: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    lazy: false,
    retryAttempts: Number.POSITIVE_INFINITY,
    // A refused key stays refused until the user changes it (which opens a new feed); every other drop is retried.
    shouldRetry: (event) => (event as CloseEvent | undefined)?.code !== 4403,
    on: {
      connecting: () => options.onState('connecting'),
      connected: () => options.onState('live'),
      closed: (event) => {
        options.onState('offline');
        // 4403: the gateway refused the credentials on connection_init.
        if ((event as CloseEvent | undefined)?.code === 4403) {
          options.onError(
            new ApiError('The live feed was refused: missing or invalid API key.', 'UNAUTHENTICATED', {}),
          );
        }
      },
    },
  });
  const unsubscribe = client.subscribe<Result>(
    { ...operationOf(options.document), variables: options.variables },
    {
      next: (result) => {
        const first = result.errors?.[0];
        if (first) options.onError(ApiError.from(first as { message: string; extensions?: Record<string, unknown> }));
        if (result.data) options.onData(result.data as Result);
      },
      error: (error) => options.onError(feedError(error)),
      complete: () => undefined,
    },
  );
  return {
    close() {
      unsubscribe();
      void client.dispose();
    },
  };
}

/** What ended the subscription: the operation's GraphQL errors, or the socket's close (4403: credentials refused). */
function feedError(error: unknown): ApiError {
  if (Array.isArray(error) && error[0]) return ApiError.from(error[0] as { message: string });
  const code = (error as Partial<CloseEvent> | null)?.code;
  if (code === 4403) {
    return new ApiError('The live feed was refused: the API key is missing or not valid.', 'UNAUTHENTICATED', {});
  }
  const reason = (error as Partial<CloseEvent> | null)?.reason;
  return new ApiError(`The live feed closed${code ? ` (${code}${reason ? `: ${reason}` : ''})` : ''}.`, undefined, {});
}
