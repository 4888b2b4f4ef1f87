import { getDocumentString } from '@envelop/core';
import { type JITCache, useGraphQlJit } from '@envelop/graphql-jit';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  getOperationAST,
  getVariableValues,
  Kind,
} from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../lib/logger.js';

// Compiled execution: graphql-jit turns each document into a function once and runs that instead of graphql-js's
// interpreter (bench/README.md, issue 16: execution was the largest stage of a read). Through @envelop/graphql-jit,
// so the envelop's other hooks (masking, tracing, the shared subscriptions' subscribe wrapper) see the same
// execute and subscribe phases as before.
//
// The plugin alone has no fallback: a document graphql-jit cannot compile would be answered with the compiler's
// errors, and its cache is keyed by document only, so a document of several operations would run the first
// operation asked for under every operation name. Documents go to graphql-jit only when they hold one operation and
// compiled; everything else runs on graphql-js as before. Each document is compiled once: the compilation made to
// decide is handed to the plugin through its cache (it looks the document's text up there before compiling).

export interface CompiledExecutionOptions {
  logger: Logger;
}

type Compiled = NonNullable<ReturnType<JITCache['get']>>;

export function useCompiledExecution({ logger }: CompiledExecutionOptions): Plugin {
  /** Per document (Yoga's parser cache hands out one per query text): whether graphql-jit runs it. */
  const decided = new WeakMap<DocumentNode, boolean>();
  /** Compilations waiting for the plugin's first look-up of their document; taken out at that look-up. */
  const handOff = new Map<string, Compiled>();
  const cache: JITCache = {
    get(key) {
      const entry = handOff.get(key);
      handOff.delete(key);
      return entry;
    },
    // The plugin keeps what it uses in its own WeakMap per document; nothing more to hold here.
    set() {},
  };

  const compiles = (args: ExecutionArgs): boolean => {
    const known = decided.get(args.document);
    if (known !== undefined) return known;
    let ok = false;
    if (singleOperation(args.document)) {
      const result = compileQuery(args.schema, args.document, args.operationName ?? undefined);
      if (isCompiledQuery(result)) {
        ok = true;
        const text = getDocumentString(args.document);
        // Bounded: an entry is only left behind if its execution never started.
        if (handOff.size >= 1000) handOff.clear();
        if (text !== undefined) handOff.set(text, withGraphQLJsVariableErrors(result, args));
      } else {
        logger.debug({ errors: result.errors?.map((e) => e.message) }, 'document not compiled: graphql-js runs it');
      }
    }
    decided.set(args.document, ok);
    return ok;
  };

  return useGraphQlJit({}, { enableIf: compiles, cache }) as Plugin;
}

/**
 * graphql-jit coerces variables itself, with terser messages than graphql-js (no path, no reason: `Expected type
 * AiEditJobStatus.` instead of `Value "DON" does not exist in "AiEditJobStatus" enum.`). An answer of errors alone
 * (no `data`) is either refused variables or, for a subscription, its subscribe resolver's error; graphql-js's own
 * coercion (pure) tells which, and its errors are answered, word for word what graphql-js alone would say.
 */
function withGraphQLJsVariableErrors(compiled: Compiled, args: ExecutionArgs): Compiled {
  const { schema, document, operationName } = args;
  const definitions = getOperationAST(document, operationName)?.variableDefinitions ?? [];
  const variableErrors = (variables: unknown): ExecutionResult | undefined => {
    const coerced = getVariableValues(schema, definitions, (variables ?? {}) as Record<string, unknown>);
    return coerced.errors ? { errors: coerced.errors } : undefined;
  };
  const refused = (result: unknown): boolean =>
    typeof result === 'object' && result !== null && !('data' in result) && 'errors' in result;
  const entry: Compiled = {
    ...compiled,
    query: (root, context, variables) => {
      const result = compiled.query(root, context, variables);
      if (isPromise(result))
        return result.then((settled) => (refused(settled) ? (variableErrors(variables) ?? settled) : settled));
      return refused(result) ? (variableErrors(variables) ?? result) : result;
    },
  };
  const { subscribe } = compiled;
  if (subscribe) {
    entry.subscribe = async (root, context, variables) => {
      const result = await subscribe(root, context, variables);
      return refused(result) ? (variableErrors(variables) ?? result) : result;
    };
  }
  return entry;
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

function singleOperation(document: DocumentNode): boolean {
  let operations = 0;
  for (const definition of document.definitions) if (definition.kind === Kind.OPERATION_DEFINITION) operations++;
  return operations === 1;
}
