import { z } from 'zod';

// Environment -> typed, validated configuration. A bad value stops start-up with one line naming the variable.

const positiveInt = (max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(1).max(max);
const nonNegativeInt = (max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(0).max(max);

const databaseUrl = z
  .string()
  .refine((v) => v === 'sqlite::memory:' || /^sqlite:.+/.test(v) || /^postgres(ql)?:\/\/.+/.test(v), {
    message: 'must be sqlite:<path>, sqlite::memory: or postgres://...',
  });

const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, { message: 'must be an http(s) URL' });

const redisUrl = z.string().refine((v) => /^rediss?:\/\/.+/.test(v), { message: 'must be a redis:// or rediss:// URL' });

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export const configSchema = z.object({
  PORT: z.preprocess(emptyToUndefined, nonNegativeInt(65535).default(4000)),
  HOST: z.preprocess(emptyToUndefined, z.string().min(1).default('127.0.0.1')),
  CLAID_API_KEY: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
  CLAID_API_URL: z.preprocess(emptyToUndefined, httpUrl.optional()),
  DATABASE_URL: z.preprocess(emptyToUndefined, databaseUrl.default('sqlite:./data/gateway.db')),
  REDIS_URL: z.preprocess(emptyToUndefined, redisUrl.optional()),
  POLL_INTERVAL_MS: z.preprocess(emptyToUndefined, positiveInt(3_600_000).default(1000)),
  BACKGROUND_POLL_INTERVAL_MS: z.preprocess(emptyToUndefined, positiveInt(3_600_000).optional()),
  UPSTREAM_TIMEOUT_MS: z.preprocess(emptyToUndefined, positiveInt(600_000).default(10_000)),
  UPSTREAM_RETRIES: z.preprocess(emptyToUndefined, nonNegativeInt(10).default(2)),
  UPSTREAM_MAX_RPS: z.preprocess(emptyToUndefined, positiveInt(1000).default(4)),
  UPSTREAM_MAX_RPM: z.preprocess(emptyToUndefined, positiveInt(60_000).default(120)),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  SIMULATOR_PORT: z.preprocess(emptyToUndefined, nonNegativeInt(65535).default(4010)),
  SIMULATOR_STEP_MS: z.preprocess(emptyToUndefined, nonNegativeInt(600_000).default(1500)),
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
  };
  databaseUrl: string;
  redisUrl: string | undefined;
  pollIntervalMs: number;
  /** Cadence for unfinished jobs nobody watches. */
  backgroundPollIntervalMs: number;
  logLevel: Env['LOG_LEVEL'];
  simulator: { port: number; stepMs: number };
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
    throw new ConfigError(`Invalid ${name}=${JSON.stringify(name === 'CLAID_API_KEY' ? '***' : env[name])}: ${describeIssue(issue)}`);
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
    },
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    pollIntervalMs: e.POLL_INTERVAL_MS,
    backgroundPollIntervalMs: e.BACKGROUND_POLL_INTERVAL_MS ?? Math.max(e.POLL_INTERVAL_MS * 10, 10_000),
    logLevel: e.LOG_LEVEL,
    simulator: { port: e.SIMULATOR_PORT, stepMs: e.SIMULATOR_STEP_MS },
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
