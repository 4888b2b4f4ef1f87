import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { type ASTVisitor, BREAK, GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ERROR_CODES, ErrorCode } from '../../domain/errors.js';
import type { SecurityConfig } from './security-config.js';

// Limits on what a GraphQL document may ask for. graphql-armor counts depth, cost, tokens, aliases and directives;
// the document's length is checked before it is parsed at all, and repeated `__typename` (which armor does not count,
// and which field merging makes cheap to repeat) is capped here. Every refusal carries `extensions.code`
// QUERY_TOO_COMPLEX and `extensions.limit` naming the limit, so a client can tell them apart.

const { QUERY_TOO_COMPLEX } = ErrorCode;

type Limit = 'documentLength' | 'depth' | 'cost' | 'tokens' | 'aliases' | 'directives' | 'typename';

// Armor's envelop plugins throw from inside validation by default, which Yoga answers as a 200 and graphql-ws as an
// internal error (4500); reported to the validation context instead, a refusal is an ordinary validation error.
function reject(limit: Limit) {
  return {
    propagateOnRejection: false,
    onReject: [
      (ctx: ValidationContext | null, error: GraphQLError) => {
        Object.assign(error.extensions as Record<string, unknown>, { code: QUERY_TOO_COMPLEX, limit });
        ctx?.reportError(error);
      },
    ],
  };
}

/** For the token limit, counted while parsing: there the thrown error is a syntax error, answered 400. */
function tag(limit: Limit) {
  return (_ctx: ValidationContext | null, error: GraphQLError) => {
    Object.assign(error.extensions as Record<string, unknown>, { code: QUERY_TOO_COMPLEX, limit });
  };
}

function limitError(limit: Limit, message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: QUERY_TOO_COMPLEX, limit, http: { status: ERROR_CODES.QUERY_TOO_COMPLEX.httpStatus } },
  });
}

export function useDocumentLengthLimit(maxLength: number): Plugin {
  return {
    onParse({ params }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      if (source.length > maxLength) {
        throw limitError(
          'documentLength',
          `Document length limit of ${maxLength} characters exceeded, found ${source.length}.`,
        );
      }
    },
  };
}

export function typenameLimitRule(max: number) {
  return (context: ValidationContext): ASTVisitor => {
    let count = 0;
    return {
      Field(node) {
        if (node.name.value !== '__typename' || ++count <= max) return undefined;
        context.reportError(
          new GraphQLError(`__typename limit of ${max} exceeded.`, {
            nodes: [node],
            extensions: { code: QUERY_TOO_COMPLEX, limit: 'typename' },
          }),
        );
        return BREAK;
      },
    };
  };
}

export function limitPlugins(config: SecurityConfig): Plugin[] {
  const armor = new EnvelopArmor({
    maxDepth: { n: config.maxDepth, ignoreIntrospection: true, ...reject('depth') },
    costLimit: { maxCost: config.maxCost, ignoreIntrospection: true, ...reject('cost') },
    maxTokens: { n: config.maxTokens, onReject: [tag('tokens')] },
    // armor leaves aliased __typename out of the count by default; here every alias counts.
    maxAliases: { n: config.maxAliases, allowList: [], ...reject('aliases') },
    maxDirectives: { n: config.maxDirectives, ...reject('directives') },
    // Suggestions ("Did you mean …?") reveal the schema, which matters only where introspection is not open anyway.
    blockFieldSuggestion: { enabled: config.introspection !== 'on' },
  });
  const typenameRule = typenameLimitRule(config.maxTypenameFields);
  return [
    useDocumentLengthLimit(config.maxDocumentLength),
    ...(armor.protect().plugins as Plugin[]),
    { onValidate: ({ addValidationRule }) => addValidationRule(typenameRule) },
  ];
}
