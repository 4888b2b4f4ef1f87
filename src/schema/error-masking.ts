import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { ErrorCode, GatewayError } from '../domain/errors.js';
import type { Logger } from '../lib/logger.js';
import { currentRequestId } from '../lib/request-scope.js';

/**
 * Yoga's maskError: a GatewayError from a service becomes a GraphQLError with `extensions.code` the client can act
 * on; GraphQL's own errors (syntax, validation) pass; anything else is masked and logged with a correlation id, the
 * request's id.
 */
export function createErrorMasker(logger: Logger) {
  return function maskError(error: unknown, message: string): Error {
    const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    if (original instanceof GatewayError) {
      const located = error instanceof GraphQLError ? error : undefined;
      return new GraphQLError(original.message, {
        nodes: located?.nodes,
        source: located?.source,
        positions: located?.positions,
        path: located?.path,
        extensions: { code: original.code, ...original.extensions },
      });
    }
    if (error instanceof GraphQLError && !error.originalError) return error;
    if (error instanceof GraphQLError && error.originalError instanceof GraphQLError) return error.originalError;
    // The request id, so that a client quoting it finds every line of its request, not only this one.
    const correlationId = currentRequestId() ?? randomUUID();
    logger.error(
      { err: original, correlationId, path: error instanceof GraphQLError ? error.path : undefined },
      'unexpected error',
    );
    return new GraphQLError(message, {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, correlationId },
    });
  };
}
