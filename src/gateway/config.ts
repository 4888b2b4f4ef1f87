import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { emptyToUndefined } from '../lib/empty-to-undefined.js';
import { parseApiKeys } from '../services/auth/api-keys.js';
import { type AuthConfig, isLoopbackHost } from '../services/auth/authenticator.js';
import type { CallerLimitsConfig } from '../services/auth/caller-limits.js';
import { type SecurityConfig, securityConfigFrom, securityEnvShape } from '../transport/security/security-config.js';
import type { HttpLimits } from './http-server.js';

// Environment -> typed, validated configuration. A bad value stops start-up with one line naming the variable.

const positiveInt = (max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(1).max(max);
const nonNegativeInt = (max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(0).max(max);

const databaseUrl = z
  .string()
  .refine((v) => v === 'sqlite::memory:' || /^sqlite:.+/.test(v) || /^postgres(ql)?:\/\/.+/.test(v), {
    message: 'must be sqlite:<path>, sqlite::memory: or postgres://...',
  });

const httpUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'must be an http(s) URL' },
);

const redisUrl = z
  .string()
  .refine((v) => /^rediss?:\/\/.+/.test(v), { message: 'must be a redis:// or rediss:// URL' });

const booleanFlag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const apiKeyList = z.string().superRefine((v, ctx) => {
  try {
    parseApiKeys(v);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `must be name:key pairs separated by commas (${(error as Error).message})`,
    });
  }
});

const jwtSecret = z.string().refine((v) => v.length >= 32, { message: 'must be at least 32 characters (HS256)' });

/** Variables whose values never appear in an error message. */
const SECRET_VARIABLES = new Set([
  'CLAID_API_KEY',
  'CLAID_WEBHOOK_SECRET',
  'GATEWAY_API_KEYS',
  'JWT_SECRET',
  'METRICS_TOKEN',
]);

export const configSchema = z
  .object({
    PORT: z.preprocess(emptyToUndefined, nonNegativeInt(65535).default(4000)),
    HOST: z.preprocess(emptyToUndefined, z.string().min(1).default('127.0.0.1')),
    CLAID_API_KEY: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
    CLAID_API_URL: z.preprocess(emptyToUndefined, httpUrl.optional()),
    DATABASE_URL: z.preprocess(emptyToUndefined, databaseUrl.default('sqlite:./data/gateway.db')),
    REDIS_URL: z.preprocess(emptyToUndefined, redisUrl.optional()),
    REDIS_KEY_PREFIX: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 : _ . -')
        .default('aiedit:'),
    ),
    INSTANCE_ID: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 : _ . -')
        .optional(),
    ),
    POLL_LEASE_TTL_MS: z.preprocess(emptyToUndefined, positiveInt(3_600_000).min(100).optional()),
    JOB_RESCAN_INTERVAL_MS: z.preprocess(emptyToUndefined, positiveInt(3_600_000).default(5000)),
    POLL_INTERVAL_MS: z.preprocess(emptyToUndefined, positiveInt(3_600_000).default(1000)),
    BACKGROUND_POLL_INTERVAL_MS: z.preprocess(emptyToUndefined, positiveInt(3_600_000).optional()),
    POLL_STRATEGY: z.preprocess(emptyToUndefined, z.enum(['fixed', 'learned']).default('learned')),
    UPSTREAM_TIMEOUT_MS: z.preprocess(emptyToUndefined, positiveInt(600_000).default(10_000)),
    UPSTREAM_RETRIES: z.preprocess(emptyToUndefined, nonNegativeInt(10).default(2)),
    UPSTREAM_MAX_RPS: z.preprocess(emptyToUndefined, positiveInt(1000).default(4)),
    UPSTREAM_MAX_RPM: z.preprocess(emptyToUndefined, positiveInt(60_000).default(120)),
    UPSTREAM_UNKNOWN_TASK_GRACE_MS: z.preprocess(emptyToUndefined, nonNegativeInt(86_400_000).default(300_000)),
    CLAID_WEBHOOK_SECRET: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
    CLAID_WEBHOOK_SIGNATURE_HEADER: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, 'must be an HTTP header name')
        .transform((v) => v.toLowerCase())
        .default('x-claid-hmac-sha256'),
    ),
    WEBHOOK_MAX_BODY_BYTES: z.preprocess(emptyToUndefined, positiveInt(16 * 1024 ** 2).default(256 * 1024)),
    LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
    SIMULATOR_PORT: z.preprocess(emptyToUndefined, nonNegativeInt(65535).default(4010)),
    SIMULATOR_STEP_MS: z.preprocess(emptyToUndefined, nonNegativeInt(600_000).default(1500)),
    SIMULATOR_DATA_DIR: z.preprocess(emptyToUndefined, z.string().optional()),
    AUTH_MODE: z.preprocess(emptyToUndefined, z.enum(['none', 'apikey', 'jwt']).default('none')),
    ALLOW_ANONYMOUS: z.preprocess(emptyToUndefined, booleanFlag.default(false)),
    GATEWAY_API_KEYS: z.preprocess(emptyToUndefined, apiKeyList.optional()),
    GATEWAY_API_KEYS_FILE: z.preprocess(emptyToUndefined, z.string().optional()),
    JWT_JWKS_URL: z.preprocess(emptyToUndefined, httpUrl.optional()),
    JWT_SECRET: z.preprocess(emptyToUndefined, jwtSecret.optional()),
    JWT_ISSUER: z.preprocess(emptyToUndefined, z.string().optional()),
    JWT_AUDIENCE: z.preprocess(emptyToUndefined, z.string().optional()),
    MAX_SUBMITS_PER_MINUTE: z.preprocess(emptyToUndefined, positiveInt(100_000).default(30)),
    MAX_UNFINISHED_JOBS: z.preprocess(emptyToUndefined, positiveInt(1000).default(50)),
    MAX_SUBSCRIPTIONS_PER_CONNECTION: z.preprocess(emptyToUndefined, positiveInt(10_000).default(20)),
    MAX_SUBSCRIPTIONS_PER_CALLER: z.preprocess(emptyToUndefined, positiveInt(100_000).default(100)),
    READ_CACHE_MAX_BYTES: z.preprocess(emptyToUndefined, nonNegativeInt(4 * 1024 ** 3).default(64 * 1024 ** 2)),
    READ_CACHE_TTL_MS: z.preprocess(emptyToUndefined, positiveInt(7 * 24 * 3_600_000).default(3_600_000)),
    HTTP_HEADERS_TIMEOUT_MS: z.preprocess(emptyToUndefined, positiveInt(600_000).default(10_000)),
    HTTP_REQUEST_TIMEOUT_MS: z.preprocess(emptyToUndefined, positiveInt(3_600_000).default(30_000)),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: z.preprocess(emptyToUndefined, positiveInt(600_000).default(5_000)),
    MAX_CONNECTIONS: z.preprocess(emptyToUndefined, positiveInt(1_000_000).default(10_000)),
    LOG_FORMAT: z.preprocess(emptyToUndefined, z.enum(['json', 'pretty']).optional()),
    METRICS_PORT: z.preprocess(emptyToUndefined, nonNegativeInt(65535).optional()),
    METRICS_HOST: z.preprocess(emptyToUndefined, z.string().min(1).default('127.0.0.1')),
    METRICS_TOKEN: z.preprocess(emptyToUndefined, z.string().min(16).optional()),
    METRICS_JOB_COUNT_INTERVAL_MS: z.preprocess(emptyToUndefined, positiveInt(3_600_000).default(15_000)),
    ...securityEnvShape,
  })
  .superRefine((e, ctx) => {
    // Checks across variables; each names the variable to change.
    const issue = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
    if (e.AUTH_MODE === 'none' && !isLoopbackHost(e.HOST) && !e.ALLOW_ANONYMOUS) {
      issue(
        'AUTH_MODE',
        `"none" lets anyone spend credits, and HOST=${e.HOST} is not a loopback address: set AUTH_MODE=apikey or jwt, or ALLOW_ANONYMOUS=true`,
      );
    }
    if (e.AUTH_MODE === 'apikey') {
      if (!e.GATEWAY_API_KEYS && !e.GATEWAY_API_KEYS_FILE)
        issue('GATEWAY_API_KEYS', 'AUTH_MODE=apikey needs GATEWAY_API_KEYS or GATEWAY_API_KEYS_FILE');
      if (e.GATEWAY_API_KEYS_FILE) {
        try {
          parseApiKeys(readFileSync(e.GATEWAY_API_KEYS_FILE, 'utf8'));
        } catch (error) {
          const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
          issue('GATEWAY_API_KEYS_FILE', `must be a readable file of name:key lines (${reason})`);
        }
      }
    }
    if (e.AUTH_MODE === 'jwt') {
      if (!e.JWT_JWKS_URL && !e.JWT_SECRET) issue('JWT_JWKS_URL', 'AUTH_MODE=jwt needs JWT_JWKS_URL or JWT_SECRET');
      if (e.JWT_JWKS_URL && e.JWT_SECRET) issue('JWT_SECRET', 'set either JWT_JWKS_URL or JWT_SECRET, not both');
    }
    // node:http refuses a headers limit above the whole request's.
    if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
      issue('HTTP_HEADERS_TIMEOUT_MS', `must be at most HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`);
    }
  });

export type Env = z.infer<typeof configSchema>;

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
  /** Request and document limits, CORS, CSRF, introspection, trusted documents (src/transport/security). */
  security: SecurityConfig;
  /** Answers to reads of final jobs, kept per caller (src/transport/final-read-cache.ts); maxBytes 0: off. */
  readCache: { maxBytes: number; ttlMs: number };
  /**
   * Prometheus metrics (src/gateway/metrics): on their own port (METRICS_PORT, on METRICS_HOST, loopback by
   * default), and/or at /metrics on the main port for `Authorization: Bearer METRICS_TOKEN`. Neither set: off.
   */
  metrics: { port: number | undefined; host: string; token: string | undefined; jobCountIntervalMs: number };
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
    },
    security: securityConfigFrom(e),
    readCache: { maxBytes: e.READ_CACHE_MAX_BYTES, ttlMs: e.READ_CACHE_TTL_MS },
    metrics: {
      port: e.METRICS_PORT,
      host: e.METRICS_HOST,
      token: e.METRICS_TOKEN,
      jobCountIntervalMs: e.METRICS_JOB_COUNT_INTERVAL_MS,
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
