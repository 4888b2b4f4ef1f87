import type { Logger } from '../lib/logger.js';
import type { GatewayServices } from '../schema/context.js';
import type { DurationHistory } from '../services/jobs/duration-history.js';
import type { JobPubSub } from '../services/jobs/job-events.js';
import type { JobPoller } from '../services/jobs/job-poller.js';
import type { PollCoordinator } from '../services/scale-out/poll-coordinator.js';
import type { JobStore } from '../services/store/job-store.js';
import type { ClaidClient } from '../services/upstream/claid-client.js';
import type { RateBudget } from '../services/upstream/rate-budget.js';
import type { Simulator } from '../simulator/server.js';
import type { DirectJsonLane } from '../transport/direct-json-lane.js';
import type { FinalReadCache } from '../transport/final-read-cache.js';
import type { SharedSubscriptions } from '../transport/shared-subscriptions.js';
import type { CompiledExecutionStats } from '../transport/use-compiled-execution.js';
import type { Config } from './config.js';
import type { GatewayYoga } from './graphql-transports.js';
import type { GatewayMetrics } from './metrics/gateway-metrics.js';
import type { Tracing } from './tracing/start-tracing.js';

// What buildGateway hands back; apart from build-gateway.ts so that the wiring alone fills that file.

/** What tests and the bench may reach; the running gateway itself offers only url, listen and stop. */
export interface GatewayInternals {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: JobStore;
  readonly claid: ClaidClient;
  readonly events: JobPubSub;
  readonly budget: RateBudget;
  readonly poller: JobPoller;
  /** Job durations learned from the store: the learned poll schedule and estimatedFinishAt. */
  readonly durations: DurationHistory;
  /** Job leases and shared watch interest (with REDIS_URL), else this process alone. */
  readonly coordinator: PollCoordinator;
  /** This process's id in job leases; also in /ready and the `gateway listening` log line. */
  readonly instanceId: string;
  readonly services: GatewayServices;
  readonly yoga: GatewayYoga;
  /** The embedded simulator once listening; undefined with CLAID_API_KEY or CLAID_API_URL. */
  readonly simulator: Simulator | undefined;
  /** Subscriptions that share one execution per caller, document and variables, per transport. */
  readonly sharedSubscriptions: { readonly webSocket: SharedSubscriptions; readonly http: SharedSubscriptions };
  /** Answers to reads of final jobs, per caller, served without Yoga (READ_CACHE_MAX_BYTES 0: `enabled` false). */
  readonly readCache: FinalReadCache;
  readonly directLane: DirectJsonLane;
  /** Documents run compiled (graphql-jit) and interpreted (graphql-js), counted once per parsed document. */
  readonly compiledExecution: CompiledExecutionStats;
  /** Aborted by stop(): every live stream completes. */
  readonly shutdownSignal: AbortSignal;
  /** Prometheus metrics, when METRICS_PORT or METRICS_TOKEN is set. */
  readonly metrics: GatewayMetrics | undefined;
  /** Base URL of the METRICS_PORT server once listening, e.g. http://127.0.0.1:9464. */
  readonly metricsUrl: string | undefined;
  /** OpenTelemetry tracing, when OTEL_EXPORTER_OTLP_ENDPOINT (or its traces variant) is set. */
  readonly tracing: Tracing | undefined;
}

export interface Gateway {
  /** Base URL once listening, e.g. http://127.0.0.1:4000; throws before. */
  readonly url: string;
  /** Starts the embedded simulator (if any), the HTTP and WebSocket port and the poller. */
  listen(): Promise<void>;
  /** Stops accepting, finishes in-flight requests, then closes everything opened, newest first. */
  stop(): Promise<void>;
  readonly internals: GatewayInternals;
}
