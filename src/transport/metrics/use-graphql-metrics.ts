import { fillLabelsFnParamsMap } from '@envelop/prometheus';
import { createCounter, createHistogram, usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { type ExecutionResult, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Counter, type Registry } from 'prom-client';
import { boundedLabel } from './bounded-label.js';

// GraphQL operation metrics. Yoga's Prometheus plugin times every operation through the envelop, which graphql-ws
// runs too (src/transport/graphql-ws-server.ts); its HTTP histogram is off, as it sees Yoga's requests only. The
// outcome of each operation (ok, the client-facing error code, or masked) is ours: the plugin counts errors, not
// operations by how they ended.

/** Distinct operation names kept as label values before the rest become `other`. */
const MAX_OPERATION_NAMES = 100;

/** The codes a client is sent are a fixed list (src/domain/errors.ts); anything else reads as `other`. */
const CODE = /^[A-Z][A-Z_]{0,63}$/;

/** Limit names RateLimitedError carries (src/services/auth/caller-limits.ts); a fixed set, checked as such. */
const LIMIT = /^[A-Z][A-Z_]{0,63}$/;

export function useGraphQLMetrics(registry: Registry): Plugin {
  const operationName = boundedLabel(MAX_OPERATION_NAMES);
  const labels = (params: { operationName?: string; operationType?: string }) => ({
    operationName: operationName(params.operationName, 'Anonymous'),
    operationType: params.operationType ?? 'unknown',
  });
  const outcomes = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations by name, type and outcome: ok, the error code sent, or masked (INTERNAL_SERVER_ERROR)',
    labelNames: ['operationName', 'operationType', 'outcome'],
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'gateway_caller_limit_refusals_total',
    help: 'Operations refused RATE_LIMITED by a per-caller limit, by limit',
    labelNames: ['limit'],
    registers: [registry],
  });
  const count = (name: string | undefined, type: string, errors: readonly unknown[] | undefined, outcome?: string) => {
    const found = (errors ?? []).map(errorInfo);
    outcomes.inc({
      ...labels({ operationName: name, operationType: type }),
      outcome: outcome ?? found[0]?.code ?? 'ok',
    });
    for (const { code, limit } of found) if (code === 'RATE_LIMITED' && limit !== undefined) refusals.inc({ limit });
  };
  const outcomePlugin: Plugin = {
    onValidate: ({ params, context }) => {
      return ({ valid, result }) => {
        if (valid) return;
        const op = getOperationAST(
          params.documentAST,
          (context as { params?: { operationName?: string } }).params?.operationName,
        );
        count(op?.name?.value, op?.operation ?? 'unknown', result, 'GRAPHQL_VALIDATION_FAILED');
      };
    },
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result }) => {
        if (Symbol.asyncIterator in result) return;
        const op = getOperationAST(args.document, args.operationName);
        count(op?.name?.value, op?.operation ?? 'query', (result as ExecutionResult).errors);
      },
    }),
    onSubscribe: ({ args }) => ({
      onSubscribeResult: ({ result }) => {
        const op = getOperationAST(args.document, args.operationName);
        const errors = Symbol.asyncIterator in result ? undefined : (result as ExecutionResult).errors;
        count(op?.name?.value, 'subscription', errors);
      },
    }),
  };
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(sharedSubscriptionBridge);
      addPlugin(
        usePrometheus({
          registry,
          endpoint: false,
          metrics: {
            graphql_envelop_request: createCounter({
              registry,
              counter: {
                name: 'graphql_envelop_request',
                help: 'GraphQL operations run through the envelop (HTTP, SSE and graphql-ws)',
                labelNames: ['operationName', 'operationType'],
              },
              fillLabelsFn: labels,
            }),
            graphql_envelop_request_duration: createHistogram({
              registry,
              histogram: {
                name: 'graphql_envelop_request_duration',
                help: 'Seconds from execute to the end of the result (a subscription: until it ends)',
                labelNames: ['operationName', 'operationType'],
                buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
              },
              fillLabelsFn: labels,
            }),
            graphql_envelop_error_result: false,
            graphql_envelop_request_time_summary: false,
            graphql_envelop_phase_parse: false,
            graphql_envelop_phase_validate: false,
            graphql_envelop_phase_context: false,
            graphql_envelop_phase_execute: false,
            graphql_envelop_phase_subscribe: false,
            graphql_envelop_deprecated_field: false,
            graphql_envelop_schema_change: false,
            graphql_envelop_execute_resolver: false,
            graphql_yoga_http_duration: false,
          },
        }),
      );
      addPlugin(outcomePlugin);
    },
  };
}

/**
 * A shared subscription runs with a copy of its first subscriber's context (src/transport/shared-subscriptions.ts),
 * which the Prometheus plugin, keying what it learnt at parse time by the context object, would not recognise: the
 * subscription would go uncounted. This tells it about the copy, before its own onSubscribe looks.
 */
const sharedSubscriptionBridge: Plugin = {
  onSubscribe({ args }) {
    if (fillLabelsFnParamsMap.has(args.contextValue)) return;
    const operation = getOperationAST(args.document, args.operationName);
    if (!operation) return;
    fillLabelsFnParamsMap.set(args.contextValue, {
      document: args.document,
      operationName: args.operationName ?? operation.name?.value ?? 'Anonymous',
      operationType: operation.operation,
    });
  },
};

/**
 * An error as the masker will present it (src/schema/error-masking.ts), read before masking: the code of a
 * GatewayError or of a GraphQLError that has one, GRAPHQL_ERROR for GraphQL's own, else `masked`.
 */
function errorInfo(error: unknown): { code: string; limit?: string } {
  const { extensions, originalError } = error as {
    extensions?: Record<string, unknown>;
    originalError?: { code?: unknown; extensions?: Record<string, unknown> };
  };
  const fromOriginal = originalError?.code === undefined ? undefined : originalError;
  const code = extensions?.code ?? fromOriginal?.code;
  const limit = (fromOriginal?.extensions ?? extensions)?.limit;
  const bounded = (value: unknown, pattern: RegExp) =>
    typeof value === 'string' && pattern.test(value) ? value : undefined;
  return {
    code: bounded(code, CODE) ?? (code === undefined ? (originalError ? 'masked' : 'GRAPHQL_ERROR') : 'other'),
    ...(bounded(limit, LIMIT) ? { limit: bounded(limit, LIMIT)! } : {}),
  };
}
