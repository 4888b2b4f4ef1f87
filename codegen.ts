import type { CodegenConfig } from '@graphql-codegen/cli';
import { printGatewaySchema } from './src/schema/sdl.js';

// The schema is built in-process from the Pothos code: no running server is needed.
const config: CodegenConfig = {
  schema: printGatewaySchema(),
  generates: {
    'schema.graphql': { plugins: ['schema-ast'], config: { includeDirectives: false, sort: true } },
  },
};

export default config;
