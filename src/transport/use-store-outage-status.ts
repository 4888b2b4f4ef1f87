import type { ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { ErrorCode, GatewayError, STORE_RETRY_AFTER_SECONDS } from '../domain/errors.js';

// An answer that is nothing but STORE_UNAVAILABLE goes out over HTTP as 503 with Retry-After, so that proxies,
// load balancers and plain HTTP clients see the outage. An answer that carries data besides keeps its 200: the
// error then belongs to one field, not to the request.

const isStoreUnavailable = (error: GraphQLError): boolean => {
  if (error.extensions?.code === ErrorCode.STORE_UNAVAILABLE) return true;
  const original = error.originalError;
  return original instanceof GatewayError && original.code === ErrorCode.STORE_UNAVAILABLE;
};

/** Whether no root field has data: every one is null, or there is no data at all. */
const hasNoData = (result: ExecutionResult): boolean =>
  result.data == null || Object.values(result.data).every((value) => value === null);

export function useStoreOutageStatus(): Plugin {
  return {
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if (isAsyncIterable(result)) return;
        const errors = result.errors ?? [];
        if (errors.length === 0 || !errors.every(isStoreUnavailable) || !hasNoData(result)) return;
        setResult({
          ...result,
          extensions: {
            ...result.extensions,
            http: { status: 503, headers: { 'Retry-After': String(STORE_RETRY_AFTER_SECONDS) } },
          },
        });
      },
    }),
  };
}
