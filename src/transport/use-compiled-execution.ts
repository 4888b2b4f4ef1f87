import { getDocumentString } from '@envelop/core';
import { type JITCache, useGraphQlJit } from '@envelop/graphql-jit';
import { type DocumentNode, type ExecutionArgs, Kind } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../lib/logger.js';
import { type CompiledEntry, withGraphQLJsAnswers } from './graphql-jit-parity.js';

// Compiled execution: graphql-jit turns each document into a function once and runs that instead of graphql-js's
// interpreter (bench/README.md, issue 16: execution was the largest stage of a read). Through @envelop/graphql-jit,
// so the envelop's other hooks (masking, tracing, the shared subscriptions' subscribe wrapper) see the same
// execute and subscribe phases as before.
//
// The plugin alone has no fallback: a document graphql-jit cannot compile is answered with the compiler's errors,
// and its own cache is keyed by document only, so a document of several operations would run the first operation
// asked for under every operation name. Here a document goes to graphql-jit only when it holds one operation, is
// no subscription (see compilable) and compiles; everything else runs on graphql-js as before (enableIf). The
// compilation made to decide is the one the plugin runs: it looks a document's text up in the cache given to it
// before compiling, and this cache holds every live document's compilation (an entry goes when Yoga's parser cache
// has let go of its document). A document is compiled at its second execution, not its first.

export interface CompiledExecutionOptions {
  logger: Logger;
  /** Counts documents as they are decided (for tests and diagnostics). */
  stats?: CompiledExecutionStats;
}

/** Distinct documents (per parsed document) run by graphql-jit, and left to graphql-js. */
export interface CompiledExecutionStats {
  compiled: number;
  interpreted: number;
}

type Compiled = CompiledEntry;

export function useCompiledExecution({ logger, stats }: CompiledExecutionOptions): Plugin {
  /** Per document (Yoga's parser cache hands out one per query text): whether graphql-jit runs it, once decided. */
  const decided = new WeakMap<DocumentNode, boolean | 'seen once'>();
  /** Compilations by document text, which is what the plugin looks up; each lives as long as its document. */
  const byText = new Map<string, Compiled>();
  const released = new FinalizationRegistry<{ text: string; entry: Compiled }>(({ text, entry }) => {
    // A document parsed again since has its own entry under the same text: that one stays.
    if (byText.get(text) === entry) byText.delete(text);
  });
  const cache: JITCache = {
    get: (text) => byText.get(text),
    // Only ever called for a compilation of the plugin's own, which enableIf never lets it make.
    set() {},
  };

  const compiles = (args: ExecutionArgs): boolean => {
    const known = decided.get(args.document);
    if (known === true || known === false) return known;
    // A document's first execution runs on graphql-js: compiling costs several executions' worth of CPU, which a
    // document sent once (a stream of ever-new documents, say) would never earn back.
    if (known === undefined) {
      decided.set(args.document, 'seen once');
      return false;
    }
    // The plugin finds a compilation by the text envelop's parse recorded; without one it would compile its own.
    const text = getDocumentString(args.document);
    let ok = false;
    if (text !== undefined && compilable(args.document)) {
      const result = compileQuery(args.schema, args.document, args.operationName ?? undefined);
      if (isCompiledQuery(result)) {
        const entry = withGraphQLJsAnswers(result, args);
        byText.set(text, entry);
        released.register(args.document, { text, entry });
        ok = true;
      } else {
        logger.debug({ errors: result.errors?.map((e) => e.message) }, 'document not compiled: graphql-js runs it');
      }
    }
    decided.set(args.document, ok);
    if (stats) stats[ok ? 'compiled' : 'interpreted']++;
    return ok;
  };

  return useGraphQlJit({}, { enableIf: compiles, cache }) as Plugin;
}

/**
 * One operation (see above), and not a subscription: graphql-jit 0.8 calls a subscription field's `subscribe` with
 * the operation's variables where the field's arguments belong, so `aiEditJobUpdated(id: "…")` would subscribe
 * without its id. A subscription's events are executed once per shared stream anyway (shared-subscriptions.ts).
 */
function compilable(document: DocumentNode): boolean {
  let operations = 0;
  let subscription = false;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    operations++;
    subscription = definition.operation === 'subscription';
  }
  return operations === 1 && !subscription;
}
