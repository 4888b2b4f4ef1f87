import { GraphQLError } from 'graphql';

/** Yoga's maskError: what a client may see of an error (src/schema/error-masking.ts). */
export type MaskError = (error: unknown, message: string) => Error;

/**
 * The error a client is sent for one operation outside an HTTP response (a graphql-ws `error` message): masked as
 * Yoga masks errors over HTTP, so that anything but a GraphQLError becomes `Unexpected error.`, and without
 * `extensions.http`, a status and headers that mean nothing there.
 */
export function operationError(error: unknown, maskError?: MaskError): GraphQLError {
  const masked = maskError?.(error, 'Unexpected error.') ?? error;
  if (!(masked instanceof GraphQLError)) return new GraphQLError('Unexpected error.');
  return withoutHttpExtensions(masked);
}

/** The same error less `extensions.http`; its message, locations and path stay. */
export function withoutHttpExtensions(error: GraphQLError): GraphQLError {
  if (!('http' in error.extensions)) return error;
  const { http: _httpOnly, ...extensions } = error.extensions;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions,
  });
}
