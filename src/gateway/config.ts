import type { z } from 'zod';
import type { AuthConfig } from '../services/auth/authenticator.js';
import type { CallerLimitsConfig } from '../services/auth/caller-limits.js';
import { type SecurityConfig, securityConfigFrom } from '../transport/security/security-config.js';
import { configSchema, type Env, SECRET_VARIABLES } from './env-schema.js';
import type { HttpLimits } from './http-server.js';

// Environment -> typed, validated configuration. A bad value stops start-up with one line naming the variable.

export interface Config {
  port: number;
  host: string;
  claid: {
    /** Unset: the embedded simulator runs and the gateway talks to it. */
    apiKey: string | undefined;
    apiUrl: string | undefined;
    timeoutMs: number;
    retries: number;
    maxRequestsPerSecond: number;
    maxRequestsPerMinute: number;
    /** Claid's generation limit (AI Edit submits), on top of the request budget. */
    maxSubmitsPerSecond: number;
    maxSubmitsPerMinute: number;
    /** How long a task the upstream answers 404 for may stay unknown before its job ends ERROR (default 5 min). */
    unknownTaskGraceMs: number;
  };
  databaseUrl: string;
  redisUrl: string | undefined;
  /** Several instances on one Redis (REDIS_URL). */
  scaleOut: {
    /** Put before every Redis key and channel, so that deployments sharing one Redis stay apart. */
    keyPrefix: string;
    /** This process's id in job leases (default: random per start). */
    instanceId: string | undefined;
    /** A job lease's lifetime without renewal: how long a dead instance's jobs wait for another to take them. */
    leaseTtlMs: number;
    /** How often an instance looks in the store for unfinished jobs that others submitted. */
    rescanIntervalMs: number;
  };
  /**
   * POST /webhooks/claid (src/transport/claid-webhook.ts). Without a secret it answers 404, except in front of the
   * embedded simulator, which signs with a secret generated at start.
   */
  webhook: { secret: string | undefined; signatureHeader: string; maxBodyBytes: number };
  pollIntervalMs: number;
  /** Cadence for unfinished jobs nobody watches. */
  backgroundPollIntervalMs: number;
  /**
   * When watched jobs are read: `fixed`, every pollIntervalMs; `learned`, by how long such jobs took
   * (services/jobs/duration-model.ts), never more often.
   * @default 'learned'
   */
  pollStrategy: Env['POLL_STRATEGY'];
  logLevel: Env['LOG_LEVEL'];
  /** LOG_FORMAT; unset: main.ts picks pretty on a terminal, JSON otherwise. */
  logFormat: Env['LOG_FORMAT'];
  /** Limits on slow or many clients (src/gateway/http-server.ts). */
  http: HttpLimits;
  /**
   * The embedded simulator. dataDir keeps its tasks and images across restarts (SIMULATOR_DATA_DIR, default
   * ./data/simulator; in memory with sqlite::memory: or SIMULATOR_DATA_DIR=:memory:).
   */
  simulator: { port: number; stepMs: number; dataDir: string | undefined };
  /** Who may call (src/services/auth). */
  auth: AuthConfig & { allowAnonymous: boolean };
  /** Spend limits per caller. */
  limits: CallerLimitsConfig;
  /** Callers' webhooks (src/services/webhooks). */
  webhooks: { allowPrivate: boolean; retryBaseMs: number; timeoutMs: number };
  /** Request and document limits, CORS, CSRF, introspection, trusted documents (src/transport/security). */
  security: SecurityConfig;
  /** Answers to reads of final jobs, kept per caller (src/transport/final-read-cache.ts); maxBytes 0: off. */
  readCache: { maxBytes: number; ttlMs: number };
  /** Compiled execution (graphql-jit) for the documents it compiles; off: graphql-js runs every document. */
  graphqlJit: boolean;
  /**
   * Prometheus metrics (src/gateway/metrics): on their own port (METRICS_PORT, on METRICS_HOST, loopback by
   * default), and/or at /metrics on the main port for `Authorization: Bearer METRICS_TOKEN`. Neither set: off.
   */
  metrics: { port: number | undefined; host: string; token: string | undefined; jobCountIntervalMs: number };
  /**
   * Uploaded input images (src/services/uploads): at most maxBytes each, linked under publicUrl (unset: the
   * gateway's own URL in front of the embedded simulator; with a real key, uploads are refused), signed with
   * urlSecret (unset: a secret kept in the store).
   */
  uploads: { maxBytes: number; publicUrl: string | undefined; urlSecret: string | undefined };
  /**
   * OpenTelemetry traces over OTLP/HTTP (src/gateway/tracing): tracesUrl is OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
   * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`; undefined: off, and no SDK is loaded.
   */
  tracing: { tracesUrl: string | undefined; serviceName: string };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws a ConfigError whose message is one line naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const shown =
      env[name] === undefined ? ' (unset)' : `=${JSON.stringify(SECRET_VARIABLES.has(name) ? '***' : env[name])}`;
    throw new ConfigError(`Invalid ${name}${shown}: ${describeIssue(issue)}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    claid: {
      apiKey: e.CLAID_API_KEY,
      apiUrl: e.CLAID_API_URL ?? (e.CLAID_API_KEY ? 'https://api.claid.ai' : undefined),
      timeoutMs: e.UPSTREAM_TIMEOUT_MS,
      retries: e.UPSTREAM_RETRIES,
      maxRequestsPerSecond: e.UPSTREAM_MAX_RPS,
      maxRequestsPerMinute: e.UPSTREAM_MAX_RPM,
      maxSubmitsPerSecond: e.UPSTREAM_MAX_SUBMITS_PER_SECOND,
      maxSubmitsPerMinute: e.UPSTREAM_MAX_SUBMITS_PER_MINUTE,
      unknownTaskGraceMs: e.UPSTREAM_UNKNOWN_TASK_GRACE_MS,
    },
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    scaleOut: {
      keyPrefix: e.REDIS_KEY_PREFIX,
      instanceId: e.INSTANCE_ID,
      leaseTtlMs: e.POLL_LEASE_TTL_MS ?? Math.max(2 * e.POLL_INTERVAL_MS, 500),
      rescanIntervalMs: e.JOB_RESCAN_INTERVAL_MS,
    },
    webhook: {
      secret: e.CLAID_WEBHOOK_SECRET,
      signatureHeader: e.CLAID_WEBHOOK_SIGNATURE_HEADER,
      maxBodyBytes: e.WEBHOOK_MAX_BODY_BYTES,
    },
    pollIntervalMs: e.POLL_INTERVAL_MS,
    backgroundPollIntervalMs: e.BACKGROUND_POLL_INTERVAL_MS ?? Math.max(e.POLL_INTERVAL_MS * 10, 10_000),
    pollStrategy: e.POLL_STRATEGY,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: e.MAX_CONNECTIONS,
    },
    simulator: {
      port: e.SIMULATOR_PORT,
      stepMs: e.SIMULATOR_STEP_MS,
      dataDir:
        e.SIMULATOR_DATA_DIR === ':memory:'
          ? undefined
          : (e.SIMULATOR_DATA_DIR ?? (e.DATABASE_URL === 'sqlite::memory:' ? undefined : './data/simulator')),
    },
    auth: {
      mode: e.AUTH_MODE,
      allowAnonymous: e.ALLOW_ANONYMOUS,
      apiKeys: e.GATEWAY_API_KEYS,
      apiKeysFile: e.GATEWAY_API_KEYS_FILE,
      jwt: {
        jwksUrl: e.JWT_JWKS_URL,
        secret: e.JWT_SECRET,
        issuer: e.JWT_ISSUER,
        audience: e.JWT_AUDIENCE?.split(',')
          .map((a) => a.trim())
          .filter(Boolean),
      },
    },
    limits: {
      maxSubmitsPerMinute: e.MAX_SUBMITS_PER_MINUTE,
      maxUnfinishedJobs: e.MAX_UNFINISHED_JOBS,
      maxSubscriptionsPerConnection: e.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      maxSubscriptionsPerCaller: e.MAX_SUBSCRIPTIONS_PER_CALLER,
      maxCreditsPerDay: e.MAX_CREDITS_PER_DAY,
    },
    webhooks: {
      allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
    security: securityConfigFrom(e),
    readCache: { maxBytes: e.READ_CACHE_MAX_BYTES, ttlMs: e.READ_CACHE_TTL_MS },
    graphqlJit: e.GRAPHQL_JIT,
    metrics: {
      port: e.METRICS_PORT,
      host: e.METRICS_HOST,
      token: e.METRICS_TOKEN,
      jobCountIntervalMs: e.METRICS_JOB_COUNT_INTERVAL_MS,
    },
    uploads: { maxBytes: e.MAX_UPLOAD_BYTES, publicUrl: e.PUBLIC_URL, urlSecret: e.UPLOAD_URL_SECRET },
    tracing: {
      tracesUrl:
        e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
        (e.OTEL_EXPORTER_OTLP_ENDPOINT && `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`),
      serviceName: e.OTEL_SERVICE_NAME,
    },
  };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_type':
      return issue.expected === 'int' || issue.expected === 'number' ? 'must be a whole number' : issue.message;
    default:
      return issue.message;
  }
}
