import {
  type Attributes,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { currentRequestId } from './request-scope.js';

// The one way code below the gateway makes a span. Tracing is off unless the gateway hands a Tracer in (the SDK is
// loaded only then, src/gateway/tracing); without one, `inSpan` is a single check and a direct call. Only
// @opentelemetry/api is imported here: a no-op API, free of GraphQL and HTTP.

export type { Span, Tracer };
export { SpanKind };

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /**
   * Background work (a poll read): a trace of its own. The async context it runs in may have been inherited from
   * the request that scheduled it (a timer set during a submit), which is neither its parent nor its request.
   */
  root?: boolean;
}

/** The attribute every span of a request carries (its x-request-id). */
export const REQUEST_ID_ATTRIBUTE = 'gateway.request_id';

/**
 * Runs `fn` inside a span named `name`, a child of whatever span is active, and ends the span when `fn` settles; a
 * rejection is recorded on the span and rethrown. With no tracer, just runs `fn`.
 */
export function inSpan<T>(
  tracer: Tracer | undefined,
  name: string,
  options: SpanOptions,
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!tracer) return fn(undefined);
  const requestId = options.root ? undefined : currentRequestId();
  const attributes =
    requestId === undefined ? options.attributes : { ...options.attributes, [REQUEST_ID_ATTRIBUTE]: requestId };
  const parent = options.root ? ROOT_CONTEXT : context.active();
  const kind = options.kind ?? SpanKind.INTERNAL;
  const span = tracer.startSpan(name, { kind, ...(attributes ? { attributes } : {}) }, parent);
  // async, so that a synchronous throw of fn's becomes a rejection and the span still ends.
  return context
    .with(trace.setSpan(parent, span), async () => fn(span))
    .then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        failSpan(span, error);
        span.end();
        throw error;
      },
    );
}

/** Marks a span failed with the error's name and code (never its message, which may carry what a user sent). */
export function failSpan(span: Span, error: unknown): void {
  const code = (error as { code?: unknown } | undefined)?.code;
  span.setStatus({ code: SpanStatusCode.ERROR, ...(typeof code === 'string' ? { message: code } : {}) });
  span.setAttribute('error.type', typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown');
}
