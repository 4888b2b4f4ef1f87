import type { CodegenConfig } from '@graphql-codegen/cli';
import { addTypenameSelectionDocumentTransform } from '@graphql-codegen/client-preset';
import { printGatewaySchema } from './src/schema/sdl.js';

// The schema is built in-process from the Pothos code: no running server is needed.
const config: CodegenConfig = {
  schema: printGatewaySchema(),
  generates: {
    'schema.graphql': { plugins: ['schema-ast'], config: { includeDirectives: false, sort: true } },
    // Typed example operations and their trusted-documents manifest (persisted-documents.json, sha256 -> document),
    // which the gateway loads when PERSISTED_OPERATIONS is allow or only. Every selection asks for __typename, as
    // Apollo's cache does to documents it sends itself: a client sending only the hash gets objects it can normalise.
    'client/gql/': {
      documents: ['client/operations/*.graphql'],
      preset: 'client',
      presetConfig: { persistedDocuments: true, fragmentMasking: false },
      documentTransforms: [addTypenameSelectionDocumentTransform],
      // DateTime is an ISO 8601 string on the wire; without a mapping codegen 6 types it as unknown. File is a web File.
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        emitLegacyCommonJSImports: false,
        scalars: { DateTime: 'string', File: 'File' },
      },
    },
  },
};

export default config;
