import { randomUUID } from 'node:crypto';
import { GraphQLError, Kind } from 'graphql';
import { ErrorCode, GatewayError } from '../domain/errors.js';
import type { Logger } from '../lib/logger.js';
import { currentRequestId } from '../lib/request-scope.js';

/**
 * Yoga's maskError: a GatewayError from a service becomes a GraphQLError with `extensions.code` the client can act
 * on; GraphQL's own errors (syntax, validation) pass, a variable that does not coerce as BAD_USER_INPUT; anything
 * else is masked and logged with a correlation id, the request's id.
 */
export function createErrorMasker(logger: Logger) {
  return function maskError(error: unknown, message: string): Error {
    const original = innermost(error);
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
    if (error instanceof GraphQLError && isVariableError(error)) return asBadVariable(error);
    // The outer error, not its cause: it carries the full message, the path and the locations (and, through
    // GraphQLError's constructor, the cause's extensions).
    if (error instanceof GraphQLError && (!error.originalError || error.originalError instanceof GraphQLError)) {
      return error;
    }
    // The request id, so that a client quoting it finds every line of its request, not only this one.
    const correlationId = currentRequestId() ?? randomUUID();
    logger.error(
      { err: original, correlationId, path: error instanceof GraphQLError ? error.path : undefined },
      'unexpected error',
    );
    const located = error instanceof GraphQLError ? error : undefined;
    return new GraphQLError(message, {
      nodes: located?.nodes,
      source: located?.source,
      positions: located?.positions,
      path: located?.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, correlationId },
    });
  };
}

function innermost(error: unknown): unknown {
  let current = error;
  while (current instanceof GraphQLError && current.originalError) current = current.originalError;
  return current;
}

/** Raised while coercing the request's variables: located at a variable definition, before any field ran. */
function isVariableError(error: GraphQLError): boolean {
  return !error.path && error.nodes?.[0]?.kind === Kind.VARIABLE_DEFINITION;
}

// `Variable "$input" got invalid value "JPG" at "input.output.format"; …`, or `Variable "$id" of required type …`;
// for an input object, the cause may name the field that is missing or unknown (`Field "prompt" of required type`).
const VARIABLE_MESSAGE = /^Variable "\$([^"]+)"(?: got invalid value .*? at "([^"]+)";)?/s;
const FIELD_IN_CAUSE = /^Field "([^"]+)" (?:of required type|is not defined by type)/;

/**
 * A variable that does not coerce (a bad enum value, an unknown or missing field): the whole message, which names
 * the variable and the path inside it, with BAD_USER_INPUT and `field` like a submit's own validation. Yoga's
 * `extensions.http` (400) stays.
 */
function asBadVariable(error: GraphQLError): GraphQLError {
  const match = VARIABLE_MESSAGE.exec(error.message);
  const inner = FIELD_IN_CAUSE.exec(error.originalError?.message ?? '')?.[1];
  const at = match?.[2] ?? match?.[1];
  const field = at !== undefined && inner !== undefined ? `${at}.${inner}` : at;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    originalError: error.originalError,
    extensions: {
      ...error.extensions,
      code: ErrorCode.BAD_USER_INPUT,
      ...(field === undefined ? {} : { field }),
    },
  });
}
