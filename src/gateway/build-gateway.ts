import { DisposerStack } from '../lib/disposer-stack.js';
import { createLogger, type Logger } from '../lib/logger.js';
import type { GatewayServices } from '../schema/context.js';
import { CallerLimits } from '../services/auth/caller-limits.js';
import { DurationHistory } from '../services/jobs/duration-history.js';
import { createJobPubSub } from '../services/jobs/job-events.js';
import { JobPoller } from '../services/jobs/job-poller.js';
import { JobRefresher } from '../services/jobs/job-refresher.js';
import { IDEMPOTENCY_KEY_TTL_MS } from '../services/jobs/job-service.js';
import { openJobUpdates } from '../services/jobs/job-updates.js';
import { openOwnerJobUpdates } from '../services/jobs/owner-job-updates.js';
import { PushedJobs } from '../services/jobs/pushed-jobs.js';
import { openScaleOut } from '../services/scale-out/scale-out.js';
import { countUnfinishedIn, listUnfinishedIn } from '../services/store/job-store.js';
import { createJobStore } from '../services/store/job-store-factory.js';
import { FinalReadCache } from '../transport/final-read-cache.js';
import { createHardening } from '../transport/security/hardening.js';
import { openAuthenticator } from './auth-wiring.js';
import { wireCallerWebhooks } from './caller-webhooks-wiring.js';
import { CLAID_WEBHOOK_PATH, wireClaidWebhook } from './claid-webhook-wiring.js';
import type { Config } from './config.js';
import type { Gateway } from './gateway-types.js';
import { createGraphQLTransports } from './graphql-transports.js';
import { closeHttp, createHttpServer, listenHttp } from './http-server.js';
import { createJobService } from './job-service-wiring.js';
import { listenMetrics } from './metrics/metrics-endpoint.js';
import { openObservability } from './observability.js';
import { createReadinessCheck } from './readiness.js';
import { connectError } from './start-errors.js';
import { describeStartup, startupSummary } from './startup-summary.js';
import { wireUploads } from './uploads-wiring.js';
import { pickUpstream } from './upstream.js';
import { openUpstreamBudgets } from './upstream-budgets.js';

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
  const hardening = createHardening(config.security, logger.child({ component: 'security' }), {
    maxUploadBytes: config.uploads.maxBytes,
  });
  // The sources are read at scrape time only, by when everything they name exists.
  const observability = await openObservability(
    config,
    {
      budget: () => budget.stats(),
      poller: () => poller.stats(),
      readCache: () => readCache.stats,
      subscriptions: () => ({ websocket: transports.graphqlWs.shared, sse: transports.httpSubscriptions }),
      webSocketConnections: () => transports.graphqlWs.connectionCount,
    },
    logger,
    disposers,
  );
  const { metrics } = observability;
  const tracer = observability.tracing?.tracer;
  const scaleOut = await openScaleOut({ redisUrl: config.redisUrl, ...config.scaleOut }, logger).catch((error) => {
    throw connectError('REDIS_URL', 'connect to Redis', error);
  });
  disposers.add('redis', () => scaleOut.close());
  const { coordinator, instanceId } = scaleOut;
  const openedStore = await createJobStore(config.databaseUrl, { logger }).catch((error) => {
    throw connectError('DATABASE_URL', 'open the store', error);
  });
  disposers.add('store', () => openedStore.close());
  const store = observability.observeStore(openedStore);

  const { budget, generations } = openUpstreamBudgets(config, scaleOut, logger, disposers);
  const upstream = pickUpstream(config, budget, logger, metrics && ((call) => metrics.onUpstreamCall(call)), tracer);
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
    ...(tracer ? { tracer } : {}),
  });
  const durations = new DurationHistory({ store, logger, budgetUse: () => budget.minuteUse() });
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
  const claidWebhook = wireClaidWebhook({
    ...{ config, upstream, store, refresher, events, pushedJobs, logger, disposers },
    ...(observability.onWebhook ? { onResult: observability.onWebhook } : {}),
    ...(tracer ? { tracer } : {}),
  });

  const authenticator = openAuthenticator(config, logger, disposers);
  const limits = new CallerLimits(config.limits, {
    countUnfinished: countUnfinishedIn(store),
    creditsSpent: (owner, since) => store.callers.creditsSpent(owner, since),
    maxCreditsPerDayOf: (owner) => authenticator.maxCreditsPerDayOf?.(owner),
  });
  const jobs = observability.observeJobs(
    createJobService(config, {
      store,
      claid,
      refresher,
      events,
      logger,
      coordinator,
      poller,
      limits,
      generations,
      budget,
    }),
  );
  disposers.add('job service', () => jobs.stop());
  const shutdown = new AbortController();
  const callerWebhooks = wireCallerWebhooks(config, store, logger, disposers);
  const uploads = wireUploads(config, store, logger, () => url);
  const updates = { events, poller, loadJobs: jobs.findJobs.bind(jobs), shutdown: shutdown.signal };
  const services: GatewayServices = {
    jobs,
    webhooks: callerWebhooks.webhooks,
    callerUsage: (owner) => limits.usage(owner),
    estimatedFinishAt: (job) => durations.estimatedFinishAt(job),
    jobUpdates: (owner, jobId) => openJobUpdates(updates, owner, jobId),
    jobsUpdates: (owner, filter) =>
      openOwnerJobUpdates({ ...updates, listUnfinished: listUnfinishedIn(store) }, owner, filter),
    uploads: uploads.service,
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
    compiledExecution: config.graphqlJit,
    plugins: observability.plugins(),
    server: (yoga, directLane) =>
      createHttpServer({
        ...{ yoga, readCache, directLane, ready, claidWebhook, uploads: uploads.route, logger },
        ...{ limits: config.http, metrics: mainPortMetrics },
      }),
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
    callerWebhooks.start();
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
      directLane: transports.directLane,
      compiledExecution: transports.compiledExecution,
      shutdownSignal: shutdown.signal,
      metrics,
      tracing: observability.tracing,
      get metricsUrl() {
        return metricsUrl;
      },
    },
  };
}
