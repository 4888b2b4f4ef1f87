// The layers of src/ and the one direction imports may point (docs/architecture.md):
//   main -> gateway -> transport -> schema -> resolvers -> services -> domain -> lib
// and inside services: jobs, auth -> scale-out -> upstream, store; uploads -> store. `npm run lint:deps` refuses anything else.
const layer = (name) => `^src/${name}/`;
const below = {
  gateway: ['transport', 'schema', 'resolvers', 'services', 'domain', 'lib', 'simulator'],
  transport: ['schema', 'resolvers', 'services', 'domain', 'lib'],
  schema: ['resolvers', 'services', 'domain', 'lib'],
  resolvers: ['services', 'domain', 'lib'],
  'services/jobs': ['services/scale-out', 'services/upstream', 'services/store', 'domain', 'lib'],
  'services/auth': ['domain', 'lib'],
  'services/uploads': ['services/store', 'domain', 'lib'],
  'services/scale-out': ['services/upstream', 'domain', 'lib'],
  'services/upstream': ['domain', 'lib'],
  'services/store': ['domain', 'lib'],
  domain: ['lib'],
  lib: [],
  simulator: ['domain', 'lib'],
};

const layerRules = Object.entries(below).map(([from, allowed]) => ({
  name: `layer-${from.replace('/', '-')}`,
  comment: `src/${from} may import only itself and ${allowed.length ? allowed.map((a) => `src/${a}`).join(', ') : 'nothing else in src'}`,
  severity: 'error',
  from: { path: layer(from) },
  to: {
    path: '^src/',
    pathNot: [layer(from), ...allowed.map(layer)],
  },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No module cycle, inside a folder or across.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'main-only-on-top',
      severity: 'error',
      comment: 'src/main.ts starts the gateway; nothing imports it, and it imports only src/gateway.',
      from: { path: '^src/main\\.ts$' },
      to: { path: '^src/', pathNot: ['^src/gateway/'] },
    },
    { name: 'nothing-imports-main', severity: 'error', from: {}, to: { path: '^src/main\\.ts$' } },
    {
      name: 'services-free-of-graphql',
      severity: 'error',
      comment: 'Services, domain and lib know nothing of GraphQL or of the transports.',
      from: { path: '^src/(services|domain|lib)/' },
      to: {
        dependencyTypes: ['npm'],
        path: 'node_modules/(graphql|graphql-yoga|graphql-ws|ws|@pothos/[^/]+|@envelop/[^/]+)/',
      },
    },
    {
      name: 'layers-only-in-folders',
      severity: 'error',
      comment: 'Every file of src/ sits in a layer folder (main.ts aside).',
      from: { path: '^src/[^/]+\\.ts$', pathNot: '^src/main\\.ts$' },
      to: {},
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/|node_modules',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
