import {
  context as activeContext,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type TextMapGetter,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { currentRequestId } from '../lib/request-scope.js';
import { failSpan, REQUEST_ID_ATTRIBUTE, type Tracer } from '../lib/spans.js';

// A span per GraphQL operation, with parse, validate and execute (or subscribe) as children, for HTTP, SSE and
// graphql-ws alike: it hooks the envelop's instrumentation, which both transports run through, and which wraps each
// phase so that what a resolver starts (an upstream call, a store query) is a child of execute. The operation's
// parent is the caller's `traceparent` (W3C trace context). Not @envelop/opentelemetry: it makes no parse or validate
// span, ties itself to an older SDK (sdk-trace-base 1.x) and traces every resolver, which is noise here.

interface Operation {
  span: Span;
  context: Context;
  /** Parse or validate refused the document: the operation ends with that phase. */
  refused: boolean;
}

/** What either transport leaves on the envelop's context: a Fetch Request (Yoga) or a Node request (graphql-ws). */
interface TransportContext {
  request?: { headers: { get(name: string): string | null } };
  req?: { headers: Record<string, string | string[] | undefined> };
}

const headerGetter: TextMapGetter<TransportContext> = {
  keys: () => ['traceparent', 'tracestate'],
  get(carrier, key) {
    const fetchHeaders = carrier.request?.headers;
    if (fetchHeaders && typeof fetchHeaders.get === 'function') return fetchHeaders.get(key) ?? undefined;
    return carrier.req?.headers[key];
  },
};

export function useTracing(tracer: Tracer, propagator: TextMapPropagator): Plugin {
  const operations = new WeakMap<object, Operation>();

  const operationOf = (graphqlContext: object): Operation => {
    let operation = operations.get(graphqlContext);
    if (operation) return operation;
    const parent = propagator.extract(ROOT_CONTEXT, graphqlContext as TransportContext, headerGetter);
    const requestId = currentRequestId();
    const span = tracer.startSpan(
      'graphql.operation',
      { kind: SpanKind.SERVER, ...(requestId ? { attributes: { [REQUEST_ID_ATTRIBUTE]: requestId } } : {}) },
      parent,
    );
    operation = { span, context: trace.setSpan(parent, span), refused: false };
    operations.set(graphqlContext, operation);
    return operation;
  };
  const endOperation = (graphqlContext: object, error?: unknown) => {
    const operation = operations.get(graphqlContext);
    if (!operation) return;
    operations.delete(graphqlContext);
    if (error !== undefined) failSpan(operation.span, error);
    operation.span.end();
  };

  /** Runs one synchronous phase in its own child span; a refusal ends the operation with it. */
  const syncPhase = (name: string) => (payload: { context: object }, wrapped: () => void) => {
    const operation = operationOf(payload.context);
    const span = tracer.startSpan(name, {}, operation.context);
    try {
      activeContext.with(trace.setSpan(operation.context, span), wrapped);
    } finally {
      span.end();
      if (operation.refused) endOperation(payload.context);
    }
  };
  /** execute and subscribe: the operation ends when their result is there (a subscription: its stream). */
  const asyncPhase =
    (name: string) =>
    (payload: { context: object }, wrapped: () => Promise<void> | void): Promise<void> | void => {
      const operation = operationOf(payload.context);
      const span = tracer.startSpan(name, {}, operation.context);
      const done = (error?: unknown) => {
        if (error !== undefined) failSpan(span, error);
        span.end();
        endOperation(payload.context, error);
      };
      let result: Promise<void> | void;
      try {
        result = activeContext.with(trace.setSpan(operation.context, span), wrapped);
      } catch (error) {
        done(error);
        throw error;
      }
      if (!result) return done();
      return result.then(
        () => done(),
        (error: unknown) => {
          done(error);
          throw error;
        },
      );
    };

  const describe = (graphqlContext: object, document: Parameters<typeof getOperationAST>[0], name?: string | null) => {
    const operation = operations.get(graphqlContext);
    const ast = getOperationAST(document, name);
    if (!operation || !ast) return;
    const operationName = ast.name?.value;
    operation.span.setAttribute('graphql.operation.type', ast.operation);
    if (operationName) operation.span.setAttribute('graphql.operation.name', operationName);
    operation.span.updateName(`graphql.${ast.operation}${operationName ? ` ${operationName}` : ''}`);
  };

  return {
    instrumentation: {
      parse: syncPhase('graphql.parse'),
      validate: syncPhase('graphql.validate'),
      execute: asyncPhase('graphql.execute'),
      subscribe: asyncPhase('graphql.subscribe'),
    },
    onParse: ({ context }) => {
      return ({ result }) => {
        if (!(result instanceof Error)) return;
        const operation = operations.get(context);
        if (operation) {
          operation.refused = true;
          failSpan(operation.span, { code: 'GRAPHQL_PARSE_FAILED' });
        }
      };
    },
    onValidate: ({ context, params }) => {
      describe(context, params.documentAST, (context as { params?: { operationName?: string } }).params?.operationName);
      return ({ valid }) => {
        if (valid) return;
        const operation = operations.get(context);
        if (operation) {
          operation.refused = true;
          failSpan(operation.span, { code: 'GRAPHQL_VALIDATION_FAILED' });
        }
      };
    },
    onExecute: ({ args }) => {
      const errors = (count: number) => {
        const operation = operations.get(args.contextValue as object);
        if (operation && count > 0) operation.span.setAttribute('graphql.error_count', count);
      };
      return {
        onExecuteDone: ({ result }) => {
          if (!(Symbol.asyncIterator in result)) errors(result.errors?.length ?? 0);
        },
      };
    },
  };
}
