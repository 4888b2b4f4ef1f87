import { fileURLToPath } from 'node:url';
import type { Plugin } from 'graphql-yoga';
import { loadWebAppFiles, type WebAppFile } from './web-app-files.js';

// The web app (web/, built by `npm run build` into dist/web) at `/`, before any check meant for GraphQL requests,
// as GraphiQL's assets are. Vite puts a content hash in every name under /assets/, so those are cached for a year;
// index.html and the unhashed files (samples, icon) are revalidated by ETag, so that a new build shows at once.

/** Where `npm run build` writes the app: dist/web at the repository's root, from src/ and from dist/ alike. */
export const DEFAULT_WEB_APP_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

const CACHE_FOR_A_YEAR = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

// The app loads nothing from elsewhere; output images come from Claid's storage (or the simulator's port), so
// images may come from any http(s) origin, and the subscription is a WebSocket to this origin.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' blob: data: http: https:",
  "connect-src 'self' ws: wss:",
  "style-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface WebAppOptions {
  /** The built app's folder. @default dist/web of this repository */
  dir?: string;
}

export function useWebApp(options: WebAppOptions = {}): Plugin {
  const dir = options.dir ?? DEFAULT_WEB_APP_DIR;
  let files: Promise<ReadonlyMap<string, WebAppFile>> | undefined;
  const load = () => {
    if (!files) {
      files = loadWebAppFiles(dir);
      // A failed read is not remembered: the next request tries again.
      files.catch(() => {
        files = undefined;
      });
    }
    return files;
  };

  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      const path = url.pathname === '/' ? '/index.html' : url.pathname;
      if (path.startsWith('/graphql') || path.startsWith('/graphiql/')) return;
      return load().then(
        (loaded) => {
          const file = loaded.get(path);
          if (!file) return;
          endResponse(respond(file, path, request, fetchAPI.Response));
        },
        () => {
          if (path !== '/index.html') return;
          // Not built (a checkout without `npm run build`): say so rather than Yoga's bare 404.
          endResponse(
            new fetchAPI.Response('The web app is not built: run `npm run build`.\n', {
              status: 404,
              headers: { 'content-type': 'text/plain; charset=utf-8' },
            }),
          );
        },
      );
    },
  };
}

function respond(file: WebAppFile, path: string, request: Request, Response: typeof globalThis.Response): Response {
  const method = request.method.toUpperCase();
  if (method !== 'GET' && method !== 'HEAD')
    return new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } });
  const headers: Record<string, string> = {
    'content-type': file.type,
    'cache-control': path.startsWith('/assets/') ? CACHE_FOR_A_YEAR : REVALIDATE,
    etag: file.etag,
    'x-content-type-options': 'nosniff',
    vary: 'accept-encoding',
  };
  if (path === '/index.html') {
    headers['content-security-policy'] = CONTENT_SECURITY_POLICY;
    headers['referrer-policy'] = 'no-referrer';
  }
  if (request.headers.get('if-none-match') === file.etag) return new Response(null, { status: 304, headers });
  const gzip = file.gzipped !== undefined && /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
  const body = gzip ? file.gzipped! : file.plain;
  if (gzip) headers['content-encoding'] = 'gzip';
  headers['content-length'] = String(body.byteLength);
  return new Response(method === 'HEAD' ? null : body, { status: 200, headers });
}
