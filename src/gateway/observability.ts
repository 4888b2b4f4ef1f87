import type { Plugin } from 'graphql-yoga';
import type { DisposerStack } from '../lib/disposer-stack.js';
import type { Logger } from '../lib/logger.js';
import type { JobService } from '../services/jobs/job-service.js';
import { instrumentJobStore } from '../services/store/instrumented-job-store.js';
import type { JobStore } from '../services/store/job-store.js';
import type { WebhookResult } from '../transport/claid-webhook.js';
import { useGraphQLMetrics } from '../transport/metrics/use-graphql-metrics.js';
import { useTracing } from '../transport/use-tracing.js';
import type { Config } from './config.js';
import { countSubmits } from './metrics/counted-submits.js';
import { createGatewayMetrics, type GatewayMetrics, type MetricSources } from './metrics/gateway-metrics.js';
import { startTracing, type Tracing } from './tracing/start-tracing.js';

// Metrics and traces, each off unless configured, and what they need from the wiring: an instrumented store, the
// submit counter, the webhook observer and the GraphQL plugins. Whatever is off costs nothing here: no SDK, no
// Proxy, no plugin.

export interface Observability {
  metrics: GatewayMetrics | undefined;
  tracing: Tracing | undefined;
  /** The store with a span per call and queue-wait observation; the store itself when both are off. */
  observeStore(store: JobStore): JobStore;
  /** JobService with its submits counted (when metrics are on). */
  observeJobs(jobs: JobService): JobService;
  onWebhook: ((result: WebhookResult) => void) | undefined;
  /** Yoga plugins, put first so that they see every operation. */
  plugins(): Plugin[];
}

export async function openObservability(
  config: Config,
  sources: MetricSources,
  logger: Logger,
  disposers: DisposerStack,
): Promise<Observability> {
  const tracing = await startTracing(config.tracing, logger);
  // First in, so last out: spans of everything closing are still sent.
  if (tracing) disposers.add('tracing', () => tracing.shutdown());
  const metrics =
    config.metrics.port !== undefined || config.metrics.token !== undefined ? createGatewayMetrics(sources) : undefined;
  return {
    metrics,
    tracing,
    observeStore(store) {
      if (!tracing && !metrics) return store;
      return instrumentJobStore(store, {
        system: config.databaseUrl.startsWith('postgres') ? 'postgresql' : 'sqlite',
        ...(tracing ? { tracer: tracing.tracer } : {}),
        ...(metrics ? { onApplied: (result) => metrics.onUpstreamStateApplied(result) } : {}),
      });
    },
    observeJobs: (jobs) => (metrics ? countSubmits(jobs, (outcome) => metrics.onSubmit(outcome)) : jobs),
    onWebhook: metrics && ((result) => metrics.onWebhook(result)),
    plugins: () => [
      ...(tracing ? [useTracing(tracing.tracer, tracing.propagator)] : []),
      ...(metrics ? [useGraphQLMetrics(metrics.registry)] : []),
    ],
  };
}
