import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { emptyToUndefined } from '../lib/empty-to-undefined.js';
import { parseApiKeys } from '../services/auth/api-keys.js';
import { isLoopbackHost } from '../services/auth/authenticator.js';
import { securityEnvShape } from '../transport/security/security-config.js';

// The environment's variables, their parsers and the checks across them; config.ts turns the result into a Config.

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
export const SECRET_VARIABLES = new Set([
  'CLAID_API_KEY',
  'CLAID_WEBHOOK_SECRET',
  'GATEWAY_API_KEYS',
  'JWT_SECRET',
  'METRICS_TOKEN',
  'UPLOAD_URL_SECRET',
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
    UPSTREAM_MAX_SUBMITS_PER_SECOND: z.preprocess(emptyToUndefined, positiveInt(1000).default(1)),
    UPSTREAM_MAX_SUBMITS_PER_MINUTE: z.preprocess(emptyToUndefined, positiveInt(60_000).default(60)),
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
    MAX_CREDITS_PER_DAY: z.preprocess(emptyToUndefined, positiveInt(100_000_000).default(1000)),
    WEBHOOK_ALLOW_PRIVATE: z.preprocess(emptyToUndefined, booleanFlag.default(false)),
    WEBHOOK_RETRY_BASE_MS: z.preprocess(emptyToUndefined, positiveInt(3_600_000).default(10_000)),
    WEBHOOK_TIMEOUT_MS: z.preprocess(emptyToUndefined, positiveInt(120_000).default(10_000)),
    READ_CACHE_MAX_BYTES: z.preprocess(emptyToUndefined, nonNegativeInt(4 * 1024 ** 3).default(64 * 1024 ** 2)),
    GRAPHQL_JIT: z.preprocess(emptyToUndefined, booleanFlag.default(true)),
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
    MAX_UPLOAD_BYTES: z.preprocess(emptyToUndefined, positiveInt(1024 ** 3).default(20 * 1024 ** 2)),
    PUBLIC_URL: z.preprocess(emptyToUndefined, httpUrl.optional()),
    UPLOAD_URL_SECRET: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .refine((v) => v.length >= 32, { message: 'must be at least 32 characters' })
        .optional(),
    ),
    // OpenTelemetry's own names and meaning: the base URL (traces go to <base>/v1/traces), or the traces URL itself.
    OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(emptyToUndefined, httpUrl.optional()),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.preprocess(emptyToUndefined, httpUrl.optional()),
    OTEL_SERVICE_NAME: z.preprocess(emptyToUndefined, z.string().min(1).max(256).default('ai-edit-graphql-gateway')),
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
