import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { createLogger, type Logger } from '../lib/logger.js';
import { createContextFactory, type GatewayServices, type GraphQLContext } from '../schema/context.js';
import { createErrorMasker } from '../schema/error-masking.js';
import { schema } from '../schema/index.js';
import { authorizationFromConnectionParams, createAuthenticator } from '../services/auth/authenticator.js';
import { CallerLimits } from '../services/auth/caller-limits.js';
import { createJobPubSub, type JobPubSub } from '../services/jobs/job-events.js';
import { JobPoller } from '../services/jobs/job-poller.js';
import { JobRefresher } from '../services/jobs/job-refresher.js';
import { IDEMPOTENCY_KEY_TTL_MS, JobService } from '../services/jobs/job-service.js';
import { openJobUpdates } from '../services/jobs/job-updates.js';
import type { PollCoordinator } from '../services/scale-out/poll-coordinator.js';
import { openScaleOut } from '../services/scale-out/scale-out.js';
import { countUnfinishedIn, type JobStore } from '../services/store/job-store.js';
import { createJobStore } from '../services/store/job-store-factory.js';
import { type ClaidClient, createClaidClient } from '../services/upstream/claid-client.js';
import { RateBudget } from '../services/upstream/rate-budget.js';
import type { Simulator } from '../simulator/server.js';
import { FinalReadCache } from '../transport/final-read-cache.js';
import { attachGraphQLWs } from '../transport/graphql-ws-server.js';
import { createHardening } from '../transport/security/hardening.js';
import { SharedSubscriptions } from '../transport/shared-subscriptions.js';
import { useFinalReadCache } from '../transport/use-final-read-cache.js';
import { useSharedSubscriptions } from '../transport/use-shared-subscriptions-sse.js';
import type { Config } from './config.js';

// The transport: Yoga on node:http, one port for GraphQL, GraphiQL, /health and /ready.

export interface Gateway {
  /** Base URL once started, e.g. http://127.0.0.1:4000 */
  readonly url: string;
  readonly config: Config;
  readonly logger: Logger;
  readonly store: JobStore;
  readonly claid: ClaidClient;
  readonly events: JobPubSub;
  readonly budget: RateBudget;
  readonly poller: JobPoller;
  /** Job leases and shared watch interest (with REDIS_URL), else this process alone. */
  readonly coordinator: PollCoordinator;
  /** This process's id in job leases; also in /ready and the `gateway listening` log line. */
  readonly instanceId: string;
  readonly services: GatewayServices;
  readonly yoga: YogaServerInstance<Record<string, unknown>, GraphQLContext>;
  readonly simulator: Simulator | undefined;
  /** Subscriptions that share one execution per caller, document and variables, per transport. */
  readonly sharedSubscriptions: { readonly webSocket: SharedSubscriptions; readonly http: SharedSubscriptions };
  /** Answers to reads of final jobs, per caller, served without Yoga (READ_CACHE_MAX_BYTES 0: `enabled` false). */
  readonly readCache: FinalReadCache;
  /** Stops accepting, finishes in-flight requests, then closes the store and the upstream client. */
  stop(): Promise<void>;
}

export interface BuildOptions {
  logger?: Logger;
}

const SIMULATOR_DEFAULT_KEY = 'simulator-key';

export async function startGateway(config: Config, options: BuildOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel);
  // First, so that a missing trusted-documents manifest stops start-up before anything listens.
  const hardening = createHardening(config.security, logger.child({ component: 'security' }));

  let simulator: Simulator | undefined;
  let apiUrl = config.claid.apiUrl;
  let apiKey = config.claid.apiKey;
  if (!apiKey) {
    if (apiUrl) {
      apiKey = SIMULATOR_DEFAULT_KEY;
      logger.info({ upstream: apiUrl }, 'no CLAID_API_KEY: talking to a simulator at CLAID_API_URL');
    } else {
      // Loaded only here: the simulator brings sharp (tens of MB) that a gateway in front of Claid never needs.
      const { startSimulator } = await import('../simulator/server.js');
      simulator = await startSimulator({
        port: config.simulator.port,
        stepMs: config.simulator.stepMs,
        dataDir: config.simulator.dataDir,
        logger: logger.child({ component: 'simulator' }),
      });
      apiUrl = simulator.url;
      apiKey = simulator.apiKey;
      logger.info(
        { upstream: apiUrl, sampleInput: simulator.sampleUrl() },
        'no CLAID_API_KEY: using the embedded Claid simulator',
      );
    }
  }

  const store = await createJobStore(config.databaseUrl);
  const scaleOut = await openScaleOut({ redisUrl: config.redisUrl, ...config.scaleOut }, logger);
  const { coordinator, instanceId } = scaleOut;
  const budget = new RateBudget({
    perSecond: config.claid.maxRequestsPerSecond,
    perMinute: config.claid.maxRequestsPerMinute,
    logger,
    ...(scaleOut.limiterFactory ? { limiterFactory: scaleOut.limiterFactory } : {}),
    ...(scaleOut.sharedBudget ? { shared: scaleOut.sharedBudget } : {}),
  });
  const claid = createClaidClient({
    baseUrl: apiUrl!,
    apiKey: apiKey!,
    timeoutMs: config.claid.timeoutMs,
    retries: config.claid.retries,
    logger,
    budget,
  });
  const events = createJobPubSub(scaleOut.eventTarget);
  const refresher = new JobRefresher({
    store,
    claid,
    events,
    logger,
    coordinator,
    unknownTaskGraceMs: config.claid.unknownTaskGraceMs,
  });
  const poller = new JobPoller({
    store,
    refresher,
    budget,
    logger,
    pollIntervalMs: config.pollIntervalMs,
    backgroundPollIntervalMs: config.backgroundPollIntervalMs,
    coordinator,
    rescanIntervalMs: scaleOut.rescanIntervalMs,
  });
  const shutdown = new AbortController();
  const authLogger = logger.child({ component: 'auth' });
  const authenticator = createAuthenticator(config.auth, {
    log: (level, message, details) => authLogger[level](details ?? {}, message),
  });
  if (config.auth.mode === 'none' && config.auth.allowAnonymous) {
    authLogger.warn(
      { host: config.host },
      'AUTH_MODE=none with ALLOW_ANONYMOUS=true: anyone who reaches the port can spend upstream credits',
    );
  } else {
    authLogger.info({ mode: config.auth.mode }, 'caller authentication');
  }
  const limits = new CallerLimits(config.limits, { countUnfinished: countUnfinishedIn(store) });
  const jobs = new JobService({
    store,
    claid,
    refresher,
    events,
    poller,
    logger,
    pollIntervalMs: config.pollIntervalMs,
    claimWaitMs: config.claid.timeoutMs + 5_000,
    admitSubmit: (owner) => limits.admitSubmit(owner),
  });
  const services: GatewayServices = {
    jobs,
    jobUpdates: (owner, jobId) =>
      openJobUpdates(
        { events, poller, loadJobs: (o, ids) => jobs.findJobs(o, ids), shutdown: shutdown.signal },
        owner,
        jobId,
      ),
  };

  const readCache = new FinalReadCache({
    ...config.readCache,
    maxBodyBytes: config.security.maxBodyBytes,
    authenticator,
    graphqlEndpoint: '/graphql',
  });
  const httpSubscriptions = new SharedSubscriptions();
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    ...hardening.yogaOptions,
    plugins: [
      ...hardening.yogaOptions.plugins,
      ...(readCache.enabled ? [useFinalReadCache()] : []),
      // Last, so that it wraps whatever subscribe function the plugins before it set.
      useSharedSubscriptions(httpSubscriptions),
    ],
    schema,
    context: createContextFactory(services, { authenticator, limits }),
    graphqlEndpoint: '/graphql',
    graphiql: { title: 'AI Edit GraphQL gateway' },
    landingPage: false,
    healthCheckEndpoint: '/health',
    maskedErrors: { maskError: createErrorMasker(logger), isDev: false },
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error(args.map(String).join(' ')),
    },
  });

  const ready = async (): Promise<{ ok: boolean; checks: Record<string, string> }> => {
    const checks: Record<string, string> = {};
    await store.ping().then(
      () => (checks.store = 'ok'),
      (e: Error) => (checks.store = e.message),
    );
    checks.upstream = apiUrl ? 'configured' : 'missing';
    if (config.redisUrl)
      await scaleOut.ping().then(
        () => (checks.redis = 'ok'),
        (e: Error) => (checks.redis = e.message),
      );
    return { ok: Object.values(checks).every((v) => v === 'ok' || v === 'configured'), checks };
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/ready' && req.method === 'GET') {
      void ready().then(({ ok, checks }) => {
        res
          .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: ok ? 'ready' : 'not ready', instanceId, checks }));
      });
      return;
    }
    if (readCache.accepts(req)) {
      readCache
        .serve(req, res, (tracker) => yoga.handle(req, res, tracker ? { readTracker: tracker } : {}))
        .catch((err: unknown) => {
          logger.error({ err }, 'read cache failed a request');
          res.destroy();
        });
      return;
    }
    void yoga.handle(req, res);
  });

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
    maskError: createErrorMasker(logger),
  });

  const keyExpiry = setInterval(
    () => {
      store
        .expireIdempotencyKeys(new Date(Date.now() - IDEMPOTENCY_KEY_TTL_MS))
        .catch((err: unknown) => logger.warn({ err }, 'could not expire idempotency keys'));
    },
    60 * 60 * 1000,
  );
  keyExpiry.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await poller.start();
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url: `${url}/graphql`, instanceId }, 'gateway listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(keyExpiry);
      // Complete every live stream (SSE and WebSocket) so that clients hear the end instead of a cut.
      shutdown.abort();
      const closingSockets = graphqlWs.close();
      await new Promise<void>((resolve) => {
        // Keep-alive sockets become idle as their last response is written; close them as they do.
        const sweeper = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearInterval(sweeper);
          resolve();
        });
        server.closeIdleConnections();
      });
      await closingSockets;
      await yoga.dispose();
      authenticator.close();
      await poller.stop();
      budget.close();
      await scaleOut.close();
      await claid.close();
      await store.close();
      await simulator?.close();
      logger.info('gateway stopped');
    })());

  return {
    url,
    config,
    logger,
    store,
    claid,
    events,
    budget,
    poller,
    coordinator,
    instanceId,
    services,
    yoga,
    simulator,
    sharedSubscriptions: { webSocket: graphqlWs.shared, http: httpSubscriptions },
    readCache,
    stop,
  };
}
