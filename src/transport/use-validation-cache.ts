import type { DocumentNode, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

// Validation once per document. Yoga's own validation cache (parserAndValidationCache) keys its results by the
// names of every validation rule, which it joins into a string on every request: about 2 % of a read's CPU in the
// issue 16 profile (bench/README.md). Here the key is the document alone, which is right because the rules are the
// same for every request (the specified rules, graphql-armor's limits and the __typename cap, all added
// unconditionally) and so is the schema. A plugin that adds a validation rule for some requests only would need
// the rules in the key again.

export function useValidationCache(): Plugin {
  const results = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  return {
    onValidate({ params, setResult }) {
      const known = results.get(params.documentAST);
      if (known) {
        setResult(known);
        return;
      }
      return ({ result }) => {
        if (result != null) results.set(params.documentAST, result as readonly GraphQLError[]);
      };
    },
  };
}
