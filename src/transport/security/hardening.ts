import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../../lib/logger.js';
import { limitPlugins } from './document-limits.js';
import { isOriginAllowed } from './origins.js';
import type { SecurityConfig } from './security-config.js';
import { corsFor, useHttpGuards } from './use-http-guards.js';
import { useIntrospectionPolicy } from './use-introspection-policy.js';
import { type OperationParams, PersistedOperations, usePersistedOperations } from './use-persisted-operations.js';
import { useRequestBodyLimits } from './use-request-body-limits.js';
import { useSuggestionPolicy } from './use-suggestion-policy.js';

// GraphQL hardening, assembled in one place: Yoga options and plugins for HTTP and SSE, and the two hooks the
// graphql-ws server needs (the upgrade's Origin, and trusted documents for subscribe messages). Depth, cost and the
// other document limits run inside Yoga's envelop, which the WebSocket path shares.

export interface Hardening {
  /** Spread into createYoga's options. */
  readonly yogaOptions: {
    plugins: Plugin[];
    cors: ReturnType<typeof corsFor>;
    batching: false;
    /** Off: useRequestBodyLimits limits JSON and multipart bodies each by their own limit. */
    maxRequestBodySize: false;
  };
  /** CORS_ORIGINS, normalized: callers that get CORS headers. */
  readonly corsOrigins: readonly string[];
  /** MAX_BODY_BYTES: the limit of a JSON body. */
  readonly maxBodyBytes: number;
  /** For ws's verifyClient: false refuses the upgrade (403) before the handshake. */
  verifyUpgrade(request: IncomingMessage): boolean;
  /** The document a graphql-ws subscribe message runs; throws a GraphQLError to refuse it. */
  documentFor(params: OperationParams & { query: string }): string;
}

export interface HardeningOptions {
  /** @default '/graphql' */
  graphqlEndpoint?: string;
  /** MAX_UPLOAD_BYTES: one file of a multipart request. @default 20 MB */
  maxUploadBytes?: number;
}

export function createHardening(config: SecurityConfig, logger: Logger, options: HardeningOptions = {}): Hardening {
  const { graphqlEndpoint = '/graphql', maxUploadBytes = 20 * 1024 * 1024 } = options;
  const persisted =
    config.persistedOperations === 'off'
      ? undefined
      : PersistedOperations.load(config.persistedOperations, config.persistedOperationsManifest);
  if (persisted) logger.info({ mode: persisted.mode, documents: persisted.size }, 'trusted documents loaded');

  const plugins: Plugin[] = [
    useHttpGuards({ graphqlEndpoint, corsOrigins: config.corsOrigins, logger }),
    useRequestBodyLimits({ maxBodyBytes: config.maxBodyBytes, maxUploadBytes }),
    ...(persisted ? [usePersistedOperations(persisted)] : []),
    ...limitPlugins(config),
    useIntrospectionPolicy(config.introspection),
    useSuggestionPolicy(config.introspection),
  ];

  return {
    yogaOptions: {
      plugins,
      cors: corsFor(config.corsOrigins),
      batching: false,
      maxRequestBodySize: false,
    },
    corsOrigins: config.corsOrigins,
    maxBodyBytes: config.maxBodyBytes,
    verifyUpgrade(request) {
      const allowed = isOriginAllowed(request.headers.origin, request.headers.host, config.corsOrigins);
      if (!allowed) {
        logger.info({ origin: request.headers.origin }, 'websocket upgrade refused: origin not allowed (CORS_ORIGINS)');
      }
      return allowed;
    },
    documentFor(params) {
      // Its refusals carry an HTTP status, which the graphql-ws server leaves out (src/transport/operation-error.ts).
      return persisted ? persisted.documentFor(params) : params.query;
    },
  };
}

export type { SecurityConfig } from './security-config.js';
