import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Plugin } from 'graphql-yoga';

// GraphiQL's script, styles and editor workers, served by the gateway from the installed @graphql-yoga/graphiql
// rather than from a CDN: the page then works offline and loads nothing from outside. The package's version is in
// every asset URL, so an asset never changes under its URL and browsers may keep it for a year.

const require = createRequire(import.meta.url);
const PACKAGE_JSON = '@graphql-yoga/graphiql/package.json';
const packageDir = dirname(require.resolve(PACKAGE_JSON));

/** The installed @graphql-yoga/graphiql's version; part of every asset URL. */
export const GRAPHIQL_VERSION: string = (require(PACKAGE_JSON) as { version: string }).version;

/** Where the assets are served: `${GRAPHIQL_ASSETS_PATH}/graphiql.js` and so on. */
export const GRAPHIQL_ASSETS_PATH = `/graphiql/${GRAPHIQL_VERSION}`;

const JS = 'text/javascript; charset=utf-8';
const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  'graphiql.js': { file: 'dist/yoga-graphiql.umd.js', type: JS },
  'graphiql.css': { file: 'dist/graphiql.css', type: 'text/css; charset=utf-8' },
  'editor.worker.js': { file: 'dist/monacoeditorwork/editor.worker.bundle.js', type: JS },
  'json.worker.js': { file: 'dist/monacoeditorwork/json.worker.bundle.js', type: JS },
  // The double dot is the package's own file name.
  'graphql.worker.js': { file: 'dist/monacoeditorwork/graphql.worker..bundle.js', type: JS },
};

/** The editor workers' URLs by the label Monaco asks for. */
export const GRAPHIQL_WORKER_URLS: Readonly<Record<string, string>> = {
  editorWorkerService: `${GRAPHIQL_ASSETS_PATH}/editor.worker.js`,
  json: `${GRAPHIQL_ASSETS_PATH}/json.worker.js`,
  graphql: `${GRAPHIQL_ASSETS_PATH}/graphql.worker.js`,
};

const CACHE_FOR_A_YEAR = 'public, max-age=31536000, immutable';

interface LoadedAsset {
  readonly type: string;
  readonly plain: Uint8Array<ArrayBuffer>;
  readonly gzipped: Uint8Array<ArrayBuffer>;
}

/**
 * Serves GET and HEAD under GRAPHIQL_ASSETS_PATH before Yoga does anything else. Each file is read and compressed
 * once, on its first request (about 8 MB in all, most of it the script: a gateway nobody opens GraphiQL on never
 * holds it).
 */
export function useGraphiQLAssets(): Plugin {
  const loaded = new Map<string, Promise<LoadedAsset>>();
  const load = (name: string, asset: { file: string; type: string }): Promise<LoadedAsset> => {
    let pending = loaded.get(name);
    if (!pending) {
      // Fresh buffers from readFile and gzip, never slices of a shared pool: their ArrayBuffer is their own.
      pending = readFile(join(packageDir, asset.file)).then(async (plain) => ({
        type: asset.type,
        plain: plain as Uint8Array<ArrayBuffer>,
        gzipped: (await promisify(gzip)(plain)) as Uint8Array<ArrayBuffer>,
      }));
      // A failed read is not remembered: the next request tries again.
      pending.catch(() => loaded.delete(name));
      loaded.set(name, pending);
    }
    return pending;
  };

  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(`${GRAPHIQL_ASSETS_PATH}/`)) return;
      const method = request.method.toUpperCase();
      const asset = ASSETS[url.pathname.slice(GRAPHIQL_ASSETS_PATH.length + 1)];
      if (!asset) {
        endResponse(new fetchAPI.Response(null, { status: 404 }));
        return;
      }
      if (method !== 'GET' && method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      const gzipAccepted = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
      return load(url.pathname, asset).then(({ type, plain, gzipped }) => {
        const body = gzipAccepted ? gzipped : plain;
        endResponse(
          new fetchAPI.Response(method === 'HEAD' ? null : body, {
            status: 200,
            headers: {
              'content-type': type,
              'content-length': String(body.byteLength),
              'cache-control': CACHE_FOR_A_YEAR,
              'x-content-type-options': 'nosniff',
              vary: 'accept-encoding',
              ...(gzipAccepted ? { 'content-encoding': 'gzip' } : {}),
            },
          }),
        );
      });
    },
  };
}
