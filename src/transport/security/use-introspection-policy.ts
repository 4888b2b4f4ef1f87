import { BREAK, type DocumentNode, GraphQLError, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../../domain/errors.js';
import type { GraphQLContext } from '../../schema/context.js';
import type { IntrospectionMode } from './security-config.js';

// INTROSPECTION=on leaves schema introspection open (GraphiQL, codegen); off refuses it; authenticated allows it to
// callers who presented credentials, decided by how they were authenticated (a caller's name proves nothing).
// Checked when the operation runs, once the context knows the caller.

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

function refused(
  mode: IntrospectionMode,
  caller: Pick<GraphQLContext['caller'], 'authenticatedBy'> | undefined,
): boolean {
  if (mode === 'on') return false;
  if (mode === 'off') return true;
  return caller?.authenticatedBy !== 'apikey' && caller?.authenticatedBy !== 'jwt';
}

export function useIntrospectionPolicy(mode: IntrospectionMode): Plugin {
  if (mode === 'on') return {};
  const check = (args: { document: DocumentNode; contextValue: unknown }) =>
    isIntrospection(args.document) && refused(mode, (args.contextValue as Partial<GraphQLContext> | undefined)?.caller)
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
