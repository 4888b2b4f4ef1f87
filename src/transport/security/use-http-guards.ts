import type { Plugin } from 'graphql-yoga';
import { ERROR_CODES, ErrorCode } from '../../domain/errors.js';
import type { Logger } from '../../lib/logger.js';
import { isOriginAllowed } from './origins.js';

// Checks on the GraphQL endpoint before Yoga reads a body: cross-origin callers outside the allow-list, and requests a
// browser could send cross-site without a CORS preflight (CSRF). GraphiQL keeps working: a browser's GET of the page
// is not an operation, and GraphiQL itself sends application/json POSTs.

const SIMPLE_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
/** Headers a browser cannot add cross-site without a preflight; the names Yoga, Apollo and the GraphQL over HTTP draft use. */
export const PREFLIGHT_HEADERS = ['x-graphql-yoga-csrf', 'apollo-require-preflight', 'graphql-preflight'] as const;

function refuse(fetchAPI: { Response: typeof Response }, code: ErrorCode, message: string): Response {
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status: ERROR_CODES[code].httpStatus,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/** Needs a preflight in a browser: a non-simple content type, or one of the preflight headers. */
export function isPreflighted(headers: Headers): boolean {
  const contentType = headers.get('content-type');
  if (contentType) {
    const mime = contentType.split(';')[0]!.trim().toLowerCase();
    if (mime !== '' && !SIMPLE_CONTENT_TYPES.has(mime)) return true;
  }
  return PREFLIGHT_HEADERS.some((name) => headers.has(name));
}

export function useHttpGuards(options: {
  graphqlEndpoint: string;
  corsOrigins: readonly string[];
  logger: Logger;
}): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== options.graphqlEndpoint) return;
      const origin = request.headers.get('origin');
      if (!isOriginAllowed(origin, request.headers.get('host'), options.corsOrigins)) {
        // At info: an operator adding a frontend needs to see which origin to put in CORS_ORIGINS.
        options.logger.info({ origin, method: request.method }, 'request refused: origin not allowed (CORS_ORIGINS)');
        endResponse(
          refuse(fetchAPI, ErrorCode.ORIGIN_NOT_ALLOWED, 'This origin may not call the gateway (see CORS_ORIGINS).'),
        );
        return;
      }
      const method = request.method.toUpperCase();
      if (method !== 'GET' && method !== 'POST') return;
      // A page load of GraphiQL: Yoga renders HTML for it and runs nothing.
      if (method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html')) return;
      if (!isPreflighted(request.headers)) {
        endResponse(
          refuse(
            fetchAPI,
            ErrorCode.CSRF_PREVENTION,
            'Send a JSON body with content-type: application/json, or an x-graphql-yoga-csrf header (the request could have been forged cross-site).',
          ),
        );
      }
    },
    onResponse({ response }) {
      // A body refused part-way (413) leaves the rest of it unread on the connection: close it rather than let the
      // client reuse a connection whose next request would be read from the middle of the old body.
      if (response.status === 413) response.headers.set('connection', 'close');
    },
  };
}

/** Yoga's cors option: CORS headers only for allowed cross-origin callers; none for anyone else. */
export function corsFor(corsOrigins: readonly string[]) {
  return (request: Request) => {
    const origin = request.headers.get('origin')?.toLowerCase();
    if (!origin || !corsOrigins.includes(origin)) return false as const;
    return {
      origin: [origin],
      credentials: true,
      methods: ['GET', 'POST'],
      allowedHeaders: ['content-type', 'accept', 'authorization', ...PREFLIGHT_HEADERS],
      maxAge: 600,
    };
  };
}
