import { type ExecutionResult, GraphQLError } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';
import type { IntrospectionMode } from './security-config.js';

// GraphQL's "Did you mean …?" names fields, arguments, types and enum values of the schema, which is what turning
// introspection off keeps to itself. They come from validation (a literal in the document) and from coercing the
// variables when the operation runs (a bad enum value, an unknown input field), so both are cleaned. Validation
// runs before the caller is known, so unless introspection is `on` nobody gets suggestions, authenticated or not:
// the same answer for the same mistake.

const SUGGESTION = /\s*Did you mean [^?]*\?/g;

export function withoutSuggestions(message: string): string {
  return message.replace(SUGGESTION, '');
}

function cleaned<E extends Error>(error: E): E | GraphQLError {
  const message = withoutSuggestions(error.message);
  if (message === error.message || !(error instanceof GraphQLError)) return error;
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    // The cause keeps its own message for the log; the client sees only this one.
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

function cleanResult({ result, setResult }: { result: ExecutionResult; setResult(r: ExecutionResult): void }) {
  if (result.errors?.some((e) => withoutSuggestions(e.message) !== e.message)) {
    setResult({ ...result, errors: result.errors.map(cleaned) });
  }
}

export function useSuggestionPolicy(mode: IntrospectionMode): Plugin {
  if (mode === 'on') return {};
  return {
    onValidate() {
      return ({ valid, result, setResult }) => {
        if (!valid) setResult(result.map(cleaned));
      };
    },
    onExecute() {
      return { onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, cleanResult) };
    },
    onSubscribe() {
      return { onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, cleanResult) };
    },
  };
}
