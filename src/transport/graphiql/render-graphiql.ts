import type { GraphiQLOptions } from 'graphql-yoga';
import { PREFLIGHT_HEADERS } from '../security/use-http-guards.js';
import { GRAPHIQL_ASSETS_PATH, GRAPHIQL_WORKER_URLS } from './graphiql-assets.js';

// Yoga's `renderGraphiQL`: its page, with the script, styles and editor workers from the gateway itself
// (./graphiql-assets.ts) instead of a CDN, and nothing else fetched from outside (no remote favicon).
//
// GraphiQL runs a subscription as a graphql-sse GET with `accept: text/event-stream`, which the CSRF guard refuses
// unless it carries a preflight header. The page adds that header to everything GraphiQL sends: only a script of
// this origin (or an origin CORS_ORIGINS allows) can send it, so the guard stays as strict for every other caller.
// Subscriptions stay on HTTP rather than graphql-ws because GraphiQL's headers editor (an Authorization header)
// reaches HTTP requests only.

/** The preflight header GraphiQL sends with every request, and its value (any value passes the guard). */
export const GRAPHIQL_PREFLIGHT_HEADER = { name: PREFLIGHT_HEADERS[0], value: 'graphiql' } as const;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
/** JSON safe inside a <script>: no `</script>` or `<!--` can end or bend it. */
const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

export function renderGraphiQL(options: GraphiQLOptions = {}): string {
  const title = options.title ?? 'GraphiQL';
  const props: GraphiQLOptions = {
    ...options,
    title,
    additionalHeaders: {
      ...options.additionalHeaders,
      [GRAPHIQL_PREFLIGHT_HEADER.name]: GRAPHIQL_PREFLIGHT_HEADER.value,
    },
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${GRAPHIQL_ASSETS_PATH}/graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root">Loading ${escapeHtml(title)}…</div>
<script>
const workerUrls = ${scriptJson(GRAPHIQL_WORKER_URLS)};
self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_id, label) => workerUrls[label] ?? workerUrls.editorWorkerService };
</script>
<script src="${GRAPHIQL_ASSETS_PATH}/graphiql.js"></script>
<script>YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), ${scriptJson(props)});</script>
</body>
</html>
`;
}
