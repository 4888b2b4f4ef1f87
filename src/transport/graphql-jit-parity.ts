import type { JITCache } from '@envelop/graphql-jit';
import {
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
  getVariableValues,
  type Source,
} from 'graphql';

// What makes graphql-jit's answers the ones graphql-js (through Yoga's executor) gives, where they differ in ways a
// client sees (test/compiled-execution.test.ts sends every case to a gateway with GRAPHQL_JIT=false as well):
// - graphql-jit coerces variables itself, with terser errors (no location, no reason: `Expected type
//   AiEditJobStatus.` instead of `Value "DON" does not exist in "AiEditJobStatus" enum.`);
// - its field errors carry `locations` but neither AST nodes nor source positions, so every error rebuilt on the
//   way out (the masker, Yoga's serializer) would lose them.

/** One compiled document (a query or mutation) as @envelop/graphql-jit runs it. */
export type CompiledEntry = NonNullable<ReturnType<JITCache['get']>>;

export function withGraphQLJsAnswers(compiled: CompiledEntry, args: ExecutionArgs): CompiledEntry {
  const { schema, document, operationName } = args;
  const definitions = getOperationAST(document, operationName)?.variableDefinitions ?? [];
  const source = document.loc?.source;
  /**
   * Refused variables as Yoga's executor (@graphql-tools/executor) answers them: graphql-js's errors with HTTP 400.
   * Undefined when graphql-js accepts them (nothing runs here: coercion is pure).
   */
  const refusedVariables = (variables: unknown): ExecutionResult | undefined => {
    const coerced = getVariableValues(schema, definitions, (variables ?? {}) as Record<string, unknown>);
    if (!coerced.errors) return undefined;
    for (const error of coerced.errors) {
      const http = { ...(error.extensions.http as object | undefined), status: 400 };
      Object.defineProperty(error, 'extensions', { value: { ...error.extensions, http } });
    }
    return { errors: coerced.errors };
  };
  const answer = (result: ExecutionResult, variables: unknown): ExecutionResult => {
    if (!result.errors?.length) return result;
    // Errors alone, no data: what graphql-jit answers for variables it refused.
    if (!('data' in result)) {
      const refused = refusedVariables(variables);
      if (refused) return refused;
    }
    // `errors` first, as Yoga's executor orders a result with errors (the same bytes either way).
    const { errors, ...rest } = result;
    return { errors: errors.map((error) => locatedInSource(error, source)), ...rest };
  };
  const { query } = compiled;
  return {
    ...compiled,
    query: (root, context, variables) => {
      const result = query(root, context, variables);
      return isPromise(result) ? result.then((settled) => answer(settled, variables)) : answer(result, variables);
    },
  };
}

/** A graphql-jit error as a graphql-js one, its locations as source positions, which survive being rebuilt. */
function locatedInSource(error: GraphQLError, source: Source | undefined): GraphQLError {
  if (error.nodes || error.positions || !error.locations?.length || !source) return error;
  const lineStarts = lineStartsOf(source);
  const positions = error.locations.map(({ line, column }) => (lineStarts[line - 1] ?? 0) + column - 1);
  return new GraphQLError(error.message, {
    source,
    positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

const lineStartsCache = new WeakMap<Source, number[]>();

/** Offsets where each line of the document starts, as graphql-js counts lines (\r\n, \n or \r). */
function lineStartsOf(source: Source): number[] {
  let starts = lineStartsCache.get(source);
  if (!starts) {
    starts = [0];
    for (const match of source.body.matchAll(/\r\n|[\n\r]/g)) starts.push(match.index + match[0].length);
    lineStartsCache.set(source, starts);
  }
  return starts;
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';
