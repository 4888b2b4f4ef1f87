import type { Server } from 'node:http';
import { createYoga, type Plugin, type YogaLogger, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from '../lib/logger.js';
import { createContextFactory, type GatewayServices, type GraphQLContext } from '../schema/context.js';
import { createErrorMasker } from '../schema/error-masking.js';
import { schema } from '../schema/index.js';
import { type Authenticator, authorizationFromConnectionParams } from '../services/auth/authenticator.js';
import type { CallerLimits } from '../services/auth/caller-limits.js';
import { DirectJsonLane } from '../transport/direct-json-lane.js';
import type { FinalReadCache } from '../transport/final-read-cache.js';
import { useGraphiQLAssets } from '../transport/graphiql/graphiql-assets.js';
import { renderGraphiQL } from '../transport/graphiql/render-graphiql.js';
import { attachGraphQLWs, type GraphQLWsServer } from '../transport/graphql-ws-server.js';
import { parseCaches } from '../transport/parse-caches.js';
import type { Hardening } from '../transport/security/hardening.js';
import { SharedSubscriptions } from '../transport/shared-subscriptions.js';
import { type CompiledExecutionStats, useCompiledExecution } from '../transport/use-compiled-execution.js';
import { useFinalReadCache } from '../transport/use-final-read-cache.js';
import { useSharedSubscriptions } from '../transport/use-shared-subscriptions-sse.js';
import { useStoreOutageStatus } from '../transport/use-store-outage-status.js';
import { useValidationCache } from '../transport/use-validation-cache.js';
import { useWebApp } from '../transport/web-app/use-web-app.js';

// The schema behind its two transports: Yoga for HTTP and SSE, graphql-ws for WebSocket, both hardened alike and
// both masking errors with the same masker.

export type GatewayYoga = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

export interface GraphQLTransportOptions {
  hardening: Hardening;
  logger: Logger;
  services: GatewayServices;
  authenticator: Authenticator;
  limits: CallerLimits;
  readCache: FinalReadCache;
  /** graphql-jit for the documents it compiles (GRAPHQL_JIT). @default true */
  compiledExecution?: boolean;
  /** More Yoga plugins (metrics), run before the others so that they see every operation. */
  plugins?: Plugin[];
  /** The HTTP server that hands requests to Yoga (or the direct lane); graphql-ws attaches to its upgrades. */
  server: (yoga: GatewayYoga, directLane: DirectJsonLane) => Server;
}

export interface GraphQLTransports {
  yoga: GatewayYoga;
  server: Server;
  graphqlWs: GraphQLWsServer;
  httpSubscriptions: SharedSubscriptions;
  directLane: DirectJsonLane;
  /** Documents graphql-jit runs and documents left to graphql-js (both 0 with compiled execution off). */
  compiledExecution: CompiledExecutionStats;
}

export function createGraphQLTransports(options: GraphQLTransportOptions): GraphQLTransports {
  const { hardening, logger, authenticator, readCache } = options;
  const httpSubscriptions = new SharedSubscriptions();
  const compiledExecution: CompiledExecutionStats = { compiled: 0, interpreted: 0 };
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    ...hardening.yogaOptions,
    plugins: [
      // First: GraphiQL's own assets are served before any check meant for GraphQL requests.
      useGraphiQLAssets(),
      // The web app at `/` likewise: static files, no GraphQL.
      useWebApp(),
      // Instead of Yoga's validation cache (off below), which builds a key from every rule's name per request.
      useValidationCache(),
      ...(options.plugins ?? []),
      ...hardening.yogaOptions.plugins,
      ...(readCache.enabled ? [useFinalReadCache()] : []),
      useStoreOutageStatus(),
      // Sets the execute and subscribe functions; the masking, tracing and shared subscriptions wrap whichever is set.
      ...(options.compiledExecution === false ? [] : [useCompiledExecution({ logger, stats: compiledExecution })]),
      // Last, so that it wraps whatever subscribe function the plugins before it set.
      useSharedSubscriptions(httpSubscriptions),
    ],
    schema,
    // Yoga's validation cache is off (useValidationCache above); its parse caches are ours (parse-caches.ts).
    parserAndValidationCache: { validationCache: false, ...parseCaches() },
    context: createContextFactory(options.services, { authenticator, limits: options.limits }),
    graphqlEndpoint: '/graphql',
    graphiql: { title: 'AI Edit GraphQL gateway' },
    renderGraphiQL,
    landingPage: false,
    healthCheckEndpoint: '/health',
    maskedErrors: { maskError: createErrorMasker(logger), isDev: false },
    logging: yogaLogger(logger),
  });
  const maskError = createErrorMasker(logger);
  const directLane = new DirectJsonLane(yoga, {
    graphqlEndpoint: '/graphql',
    corsOrigins: hardening.corsOrigins,
    maxBodyBytes: hardening.maxBodyBytes,
    maskError,
  });
  const server = options.server(yoga, directLane);
  const graphqlWs = attachGraphQLWs(server, yoga, logger, {
    path: '/graphql',
    connectionInitWaitTimeoutMs: 3_000,
    keepAliveMs: 15_000,
    maxPayloadBytes: 64 * 1024,
    verifyUpgrade: hardening.verifyUpgrade,
    documentFor: hardening.documentFor,
    onConnect: (params) =>
      authenticator.authenticate(authorizationFromConnectionParams(params)).then(
        () => true,
        () => false,
      ),
    maskError,
  });
  return { yoga, server, graphqlWs, httpSubscriptions, directLane, compiledExecution };
}

/**
 * pino for Yoga, so that what it logs keeps its stack. Yoga calls `error` only with the errors it hands to the
 * masker, which already logs the unexpected ones (with their correlation id) and leaves client mistakes out of the
 * error log; at error level they would be logged twice, so Yoga's copy goes to debug.
 */
function yogaLogger(logger: Logger): YogaLogger {
  const yoga = logger.child({ component: 'yoga' });
  return {
    debug: yoga.debug.bind(yoga),
    info: yoga.info.bind(yoga),
    warn: yoga.warn.bind(yoga),
    error: (err: unknown) => yoga.debug({ err }, 'error handed to the masker'),
  };
}
