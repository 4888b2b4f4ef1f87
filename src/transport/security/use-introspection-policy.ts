import { BREAK, type DocumentNode, GraphQLError, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../../domain/errors.js';
import { ANONYMOUS_OWNER } from '../../schema/context.js';
import type { IntrospectionMode } from './security-config.js';

// INTROSPECTION=on leaves schema introspection open (GraphiQL, codegen); off refuses it; authenticated allows it to
// callers who are not anonymous. Checked when the operation runs, once the context knows the caller.

export function isIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}

function refused(mode: IntrospectionMode, owner: unknown): boolean {
  if (mode === 'on') return false;
  if (mode === 'off') return true;
  return typeof owner !== 'string' || owner === ANONYMOUS_OWNER;
}

export function useIntrospectionPolicy(mode: IntrospectionMode): Plugin {
  if (mode === 'on') return {};
  const check = (args: { document: DocumentNode; contextValue: unknown }) =>
    isIntrospection(args.document) && refused(mode, (args.contextValue as { owner?: unknown } | undefined)?.owner)
      ? new GraphQLError(
          mode === 'off'
            ? 'Introspection is disabled on this gateway.'
            : 'Introspection is only open to authenticated callers.',
          { extensions: { code: ErrorCode.INTROSPECTION_DISABLED } },
        )
      : undefined;
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
