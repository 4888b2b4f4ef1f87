import { context, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import type { Logger } from '../../lib/logger.js';

// OpenTelemetry traces, sent over OTLP/HTTP (JSON) to the configured collector. The SDK is imported only here, and
// only when tracing is on: with no endpoint, none of it is loaded, and the rest of the gateway holds no Tracer, so
// each place that could trace does one check. The provider is not made global: several gateways in one process
// (the tests) each keep their own; only the async context manager, which carries the active span, is global.

export interface Tracing {
  tracer: Tracer;
  /** W3C trace context: reads an incoming `traceparent`. */
  propagator: TextMapPropagator;
  /** Sends what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

export interface TracingConfig {
  tracesUrl: string | undefined;
  serviceName: string;
}

/** Batched spans leave at least this often. */
const EXPORT_DELAY_MS = 2_000;

export async function startTracing(config: TracingConfig, logger: Logger): Promise<Tracing | undefined> {
  const { tracesUrl, serviceName } = config;
  if (tracesUrl === undefined) return undefined;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, core, hooks] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/core'),
      import('@opentelemetry/context-async-hooks'),
    ]);
  // False when another gateway in this process registered it first: that one carries spans just as well.
  context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  const exporter = new OTLPTraceExporter({ url: tracesUrl });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: EXPORT_DELAY_MS })],
  });
  // The URL may carry a collector's credentials: only its origin is logged.
  logger.info({ collector: new URL(tracesUrl).origin, serviceName }, 'sending OpenTelemetry traces over OTLP/HTTP');
  return {
    tracer: provider.getTracer('ai-edit-graphql-gateway'),
    propagator: new core.W3CTraceContextPropagator(),
    shutdown: () => provider.shutdown(),
  };
}
