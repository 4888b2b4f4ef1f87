import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/gateway/config.js';

describe('configuration', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      databaseUrl: 'sqlite:./data/gateway.db',
      pollIntervalMs: 1000,
      logLevel: 'info',
      claid: { apiKey: undefined, apiUrl: undefined, timeoutMs: 10_000, retries: 2 },
    });
  });

  it('schedules reads by learned job durations unless POLL_STRATEGY=fixed', () => {
    expect(loadConfig({}).pollStrategy).toBe('learned');
    expect(loadConfig({ POLL_STRATEGY: 'fixed' }).pollStrategy).toBe('fixed');
  });

  it('reads OpenTelemetry variables with their standard meaning, off by default', () => {
    expect(loadConfig({}).tracing).toEqual({ tracesUrl: undefined, serviceName: 'ai-edit-graphql-gateway' });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing.tracesUrl).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example/base' }).tracing.tracesUrl).toBe(
      'https://otel.example/base/v1/traces',
    );
    const both = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9999/custom',
      OTEL_SERVICE_NAME: 'edge-gateway',
    });
    expect(both.tracing).toEqual({ tracesUrl: 'http://traces:9999/custom', serviceName: 'edge-gateway' });
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it('defaults the upstream URL to Claid when a key is given', () => {
    expect(loadConfig({ CLAID_API_KEY: 'k' }).claid.apiUrl).toBe('https://api.claid.ai');
  });

  it.each([
    ['PORT', 'abc', /PORT.*whole number/],
    ['PORT', '70000', /PORT.*at most 65535/],
    ['POLL_INTERVAL_MS', '0', /POLL_INTERVAL_MS.*at least 1/],
    ['UPSTREAM_TIMEOUT_MS', '-5', /UPSTREAM_TIMEOUT_MS/],
    ['UPSTREAM_RETRIES', '1.5', /UPSTREAM_RETRIES.*whole number/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL.*one of fatal, error/],
    ['POLL_STRATEGY', 'smart', /POLL_STRATEGY.*one of fixed, learned/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL.*sqlite:<path>/],
    ['CLAID_API_URL', 'ftp://x', /CLAID_API_URL.*http\(s\) URL/],
    ['REDIS_URL', 'http://x', /REDIS_URL.*redis:\/\//],
    ['READ_CACHE_MAX_BYTES', '-1', /READ_CACHE_MAX_BYTES.*at least 0/],
    ['READ_CACHE_MAX_BYTES', 'lots', /READ_CACHE_MAX_BYTES.*whole number/],
    ['READ_CACHE_TTL_MS', '0', /READ_CACHE_TTL_MS.*at least 1/],
  ])('refuses %s=%s with one line naming it', (name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('defaults the read cache to 64 MiB for an hour; 0 bytes turns it off', () => {
    expect(loadConfig({}).readCache).toEqual({ maxBytes: 64 * 1024 * 1024, ttlMs: 3_600_000 });
    expect(loadConfig({ READ_CACHE_MAX_BYTES: '0', READ_CACHE_TTL_MS: '5000' }).readCache).toEqual({
      maxBytes: 0,
      ttlMs: 5000,
    });
  });

  it('keeps the embedded simulator beside a persistent store, in memory beside sqlite::memory:', () => {
    expect(loadConfig({}).simulator.dataDir).toBe('./data/simulator');
    expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).simulator.dataDir).toBeUndefined();
    expect(loadConfig({ SIMULATOR_DATA_DIR: '/var/lib/sim' }).simulator.dataDir).toBe('/var/lib/sim');
    expect(loadConfig({ SIMULATOR_DATA_DIR: ':memory:' }).simulator.dataDir).toBeUndefined();
  });

  it('gives a task the upstream does not know 5 minutes by default before its job ends', () => {
    expect(loadConfig({}).claid.unknownTaskGraceMs).toBe(300_000);
    expect(loadConfig({ UPSTREAM_UNKNOWN_TASK_GRACE_MS: '250' }).claid.unknownTaskGraceMs).toBe(250);
    expect(() => loadConfig({ UPSTREAM_UNKNOWN_TASK_GRACE_MS: '-1' })).toThrow(/UPSTREAM_UNKNOWN_TASK_GRACE_MS/);
  });

  it('reads the webhook settings: off without a secret, the header lower-cased, the secret never echoed', () => {
    expect(loadConfig({}).webhook).toEqual({
      secret: undefined,
      signatureHeader: 'x-claid-hmac-sha256',
      maxBodyBytes: 256 * 1024,
    });
    const set = loadConfig({
      CLAID_WEBHOOK_SECRET: 'whsec-1',
      CLAID_WEBHOOK_SIGNATURE_HEADER: 'X-Signature',
      WEBHOOK_MAX_BODY_BYTES: '1000',
    });
    expect(set.webhook).toEqual({ secret: 'whsec-1', signatureHeader: 'x-signature', maxBodyBytes: 1000 });
    expect(() => loadConfig({ CLAID_WEBHOOK_SIGNATURE_HEADER: 'bad header' })).toThrow(
      /CLAID_WEBHOOK_SIGNATURE_HEADER/,
    );
    expect(() => loadConfig({ WEBHOOK_MAX_BODY_BYTES: '0' })).toThrow(/WEBHOOK_MAX_BODY_BYTES/);
  });

  it('never echoes the API key in a configuration error', () => {
    expect(() => loadConfig({ CLAID_API_KEY: 'sk-secret', PORT: 'x' })).toThrow(/PORT/);
    try {
      loadConfig({ CLAID_API_KEY: 'sk-secret', PORT: 'x' });
    } catch (e) {
      expect((e as Error).message).not.toContain('sk-secret');
    }
  });
});
