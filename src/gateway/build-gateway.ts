import { DisposerStack } from '../lib/disposer-stack.js';
import { createLogger, type Logger } from '../lib/logger.js';
import type { GatewayServices } from '../schema/context.js';
import { createAuthenticator } from '../services/auth/authenticator.js';
import { CallerLimits } from '../services/auth/caller-limits.js';
import { DurationHistory } from '../services/jobs/duration-history.js';
import { createJobPubSub } from '../services/jobs/job-events.js';
import { JobPoller } from '../services/jobs/job-poller.js';
import { JobRefresher } from '../services/jobs/job-refresher.js';
import { IDEMPOTENCY_KEY_TTL_MS, JobService } from '../services/jobs/job-service.js';
import { openJobUpdates } from '../services/jobs/job-updates.js';
import { PushedJobs } from '../services/jobs/pushed-jobs.js';
import { openScaleOut } from '../services/scale-out/scale-out.js';
import { countUnfinishedIn } from '../services/store/job-store.js';
import { createJobStore } from '../services/store/job-store-factory.js';
import { GenerationBudget } from '../services/upstream/generation-budget.js';
import { RateBudget } from '../services/upstream/rate-budget.js';
import { FinalReadCache } from '../transport/final-read-cache.js';
import { useGraphQLMetrics } from '../transport/metrics/use-graphql-metrics.js';
import { createHardening } from '../transport/security/hardening.js';
import { CLAID_WEBHOOK_PATH, wireClaidWebhook } from './claid-webhook-wiring.js';
import type { Config } from './config.js';
import type { Gateway } from './gateway-types.js';
import { createGraphQLTransports } from './graphql-transports.js';
import { closeHttp, createHttpServer, listenHttp } from './http-server.js';
import { createGatewayMetrics } from './metrics/gateway-metrics.js';
import { listenMetrics } from './metrics/metrics-endpoint.js';
import { createReadinessCheck } from './readiness.js';
import { connectError } from './start-errors.js';
import { describeStartup, startupSummary } from './startup-summary.js';
import { pickUpstream } from './upstream.js';

// The composition root: buildGateway wires every piece and opens the store and Redis, but nothing listens until
// listen(). Whatever it opens is registered on one DisposerStack, so stop() and a failed start close the same list.

export type { Gateway, GatewayInternals } from './gateway-types.js';

export interface BuildOptions {
  logger?: Logger;
}

/** Wires the gateway without listening; rejects (having closed what it opened) when the store or Redis fails. */
export async function buildGateway(config: Config, options: BuildOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const disposers = new DisposerStack((step, err) => logger.error({ err, step }, 'could not close a resource'));
  try {
    return await wire(config, logger, disposers);
  } catch (error) {
    await disposers.dispose();
    throw error;
  }
}

/** buildGateway, then listen(); a listen that fails closes everything before rejecting. */
export async function startGateway(config: Config, options: BuildOptions = {}): Promise<Gateway> {
  const gateway = await buildGateway(config, options);
  try {
    await gateway.listen();
  } catch (error) {
    await gateway.stop();
    throw error;
  }
  return gateway;
}

async function wire(config: Config, logger: Logger, disposers: DisposerStack): Promise<Gateway> {
  // First, so that a missing trusted-documents manifest stops start-up before anything is opened.
  const hardening = createHardening(config.security, logger.child({ component: 'security' }));
  const scaleOut = await openScaleOut({ redisUrl: config.redisUrl, ...config.scaleOut }, logger).catch((error) => {
    throw connectError('REDIS_URL', 'connect to Redis', error);
  });
  disposers.add('redis', () => scaleOut.close());
  const { coordinator, instanceId } = scaleOut;
  const store = await createJobStore(config.databaseUrl, { logger }).catch((error) => {
    throw connectError('DATABASE_URL', 'open the store', error);
  });
  disposers.add('store', () => store.close());

  const budget = new RateBudget({
    perSecond: config.claid.maxRequestsPerSecond,
    perMinute: config.claid.maxRequestsPerMinute,
    logger,
    ...(scaleOut.limiterFactory ? { limiterFactory: scaleOut.limiterFactory } : {}),
    ...(scaleOut.sharedBudget ? { shared: scaleOut.sharedBudget } : {}),
  });
  disposers.add('upstream budget', () => budget.close());
  const generations = new GenerationBudget({
    perSecond: config.claid.maxSubmitsPerSecond,
    perMinute: config.claid.maxSubmitsPerMinute,
    logger,
    limiterFactory: scaleOut.limiterFactory,
    shared: scaleOut.sharedGenerations,
    requests: budget,
  });
  // The sources are read at scrape time only, by when everything they name exists.
  const metrics =
    config.metrics.port !== undefined || config.metrics.token !== undefined
      ? createGatewayMetrics({
          budget: () => budget.stats(),
          poller: () => poller.stats(),
          readCache: () => readCache.stats,
          subscriptions: () => ({ websocket: transports.graphqlWs.shared, sse: transports.httpSubscriptions }),
          webSocketConnections: () => transports.graphqlWs.connectionCount,
        })
      : undefined;
  const upstream = pickUpstream(config, budget, logger, metrics && ((call) => metrics.onUpstreamCall(call)));
  disposers.add('upstream', () => upstream.close());
  const claid = upstream.client;

  const events = createJobPubSub(scaleOut.eventTarget);
  const refresher = new JobRefresher({
    store,
    claid,
    events,
    logger,
    coordinator,
    unknownTaskGraceMs: config.claid.unknownTaskGraceMs,
  });
  const durations = new DurationHistory({ store, logger });
  disposers.add('duration history', () => durations.stop());
  const pushedJobs = new PushedJobs();
  const poller = new JobPoller({
    store,
    refresher,
    budget,
    logger,
    pollIntervalMs: config.pollIntervalMs,
    backgroundPollIntervalMs: config.backgroundPollIntervalMs,
    ...(config.pollStrategy === 'learned' ? { readPlanner: durations } : {}),
    coordinator,
    rescanIntervalMs: scaleOut.rescanIntervalMs,
    isPushed: (jobId) => pushedJobs.has(jobId),
  });
  disposers.add('job poller', () => poller.stop());
  const claidWebhook = wireClaidWebhook({ config, upstream, store, refresher, events, pushedJobs, logger, disposers });

  const authLogger = logger.child({ component: 'auth' });
  const authenticator = createAuthenticator(config.auth, {
    log: (level, message, details) => authLogger[level](details ?? {}, message),
  });
  disposers.add('authenticator', () => authenticator.close());
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
    // A job submitted here is the coordinator's to read even while Redis is away (poll-coordinator.ts).
    poller: {
      track(job) {
        coordinator.submittedHere(job.id);
        poller.track(job);
      },
    },
    logger,
    pollIntervalMs: config.pollIntervalMs,
    claimWaitMs: config.claid.timeoutMs + 5_000,
    // Alone on the store (no Redis, so no other instance): whatever submit is left unsettled at start died with us.
    ...(config.redisUrl ? {} : { abandonedSubmitAfterMs: 0 }),
    admitSubmit: (owner) => limits.admitSubmit(owner),
    generations,
    requests: budget,
  });
  disposers.add('job service', () => jobs.stop());
  const shutdown = new AbortController();
  const services: GatewayServices = {
    jobs,
    estimatedFinishAt: (job) => durations.estimatedFinishAt(job),
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
  const ready = createReadinessCheck({
    instanceId,
    pings: { store: () => store.ping(), ...(config.redisUrl ? { redis: () => scaleOut.ping() } : {}) },
    upstreamConfigured: () => upstream.configured,
    logger,
  });
  const mainPortMetrics = { registry: metrics?.registry, token: config.metrics.token };
  const transports = createGraphQLTransports({
    hardening,
    logger,
    services,
    authenticator,
    limits,
    readCache,
    ...(metrics ? { plugins: [useGraphQLMetrics(metrics.registry)] } : {}),
    server: (yoga) =>
      createHttpServer({ yoga, readCache, ready, claidWebhook, logger, limits: config.http, metrics: mainPortMetrics }),
  });
  disposers.add('yoga', () => transports.yoga.dispose());
  const { server, graphqlWs, yoga } = transports;
  disposers.add('http and websocket', async () => {
    // Complete every live stream (SSE and WebSocket) so that clients hear the end instead of a cut.
    shutdown.abort();
    const closingSockets = graphqlWs.close();
    await closeHttp(server);
    await closingSockets;
  });

  let url: string | undefined;
  let metricsUrl: string | undefined;
  let listening: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const listen = async () => {
    if (stopping) throw new Error('the gateway is stopped: build a new one');
    await upstream.listen();
    url = await listenHttp(server, config.port, config.host);
    upstream.pushWebhooksTo(`${url}${CLAID_WEBHOOK_PATH}`);
    const keyExpiry = setInterval(
      () => {
        store
          .expireIdempotencyKeys(new Date(Date.now() - IDEMPOTENCY_KEY_TTL_MS))
          .catch((err: unknown) => logger.warn({ err }, 'could not expire idempotency keys'));
      },
      60 * 60 * 1000,
    );
    keyExpiry.unref();
    disposers.add('idempotency key expiry', () => clearInterval(keyExpiry));
    await jobs.unsettled.start(config.claid.timeoutMs + 5_000).catch((err: unknown) => {
      // The store may be away at start; the periodic run settles them once it is back.
      logger.warn({ err }, 'could not settle abandoned submits at start');
    });
    await durations.start();
    jobs.queue.start();
    if (metrics) {
      disposers.add('job metrics', metrics.watchJobs(store, config.metrics.jobCountIntervalMs, logger));
      const { port, host } = config.metrics;
      if (port !== undefined) {
        const own = await listenMetrics(metrics.registry, { port, host }, logger, listenHttp);
        disposers.add('metrics server', () => closeHttp(own.server));
        metricsUrl = own.url;
      }
    }
    await poller.start();
    const summary = startupSummary(config, upstream.simulator?.url);
    logger.info(
      { url: `${url}/graphql`, instanceId, ...summary },
      `gateway listening on ${url}/graphql: ${describeStartup(summary)}`,
    );
  };

  return {
    get url() {
      if (!url) throw new Error('the gateway is not listening: call listen() first');
      return url;
    },
    listen: () => (listening ??= listen()),
    stop: () =>
      // A listen() under way first settles (it may still be opening the port), so that nothing opens after the close.
      (stopping ??= (listening ?? Promise.resolve())
        .catch(() => {})
        .then(() => disposers.dispose())
        .then(() => {
          if (url) logger.info('gateway stopped');
        })),
    internals: {
      config,
      logger,
      store,
      claid,
      events,
      budget,
      poller,
      durations,
      coordinator,
      instanceId,
      services,
      yoga,
      get simulator() {
        return upstream.simulator;
      },
      sharedSubscriptions: { webSocket: graphqlWs.shared, http: transports.httpSubscriptions },
      readCache,
      shutdownSignal: shutdown.signal,
      metrics,
      get metricsUrl() {
        return metricsUrl;
      },
    },
  };
}
