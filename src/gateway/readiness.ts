import type { Logger } from '../lib/logger.js';

// /ready answers with a fixed vocabulary: an error's text can carry hosts, user names or SQL, so it goes to the log
// (with its stack) and the caller learns only which check failed.

export type CheckResult = 'ok' | 'failed' | 'configured' | 'missing';

export interface Readiness {
  ok: boolean;
  body: { status: 'ready' | 'not ready'; instanceId: string; checks: Record<string, CheckResult> };
}

export interface ReadinessChecks {
  instanceId: string;
  /** Each resolves when its dependency answers. */
  pings: Record<string, () => Promise<void>>;
  /** Whether an upstream is there to talk to. */
  upstreamConfigured: () => boolean;
  logger: Logger;
}

export function createReadinessCheck({ instanceId, pings, upstreamConfigured, logger }: ReadinessChecks) {
  return async function ready(): Promise<Readiness> {
    const checks: Record<string, CheckResult> = {};
    await Promise.all(
      Object.entries(pings).map(([name, ping]) =>
        ping().then(
          () => (checks[name] = 'ok'),
          (err: unknown) => {
            checks[name] = 'failed';
            logger.error({ err, check: name }, 'readiness check failed');
          },
        ),
      ),
    );
    checks.upstream = upstreamConfigured() ? 'configured' : 'missing';
    const ok = Object.values(checks).every((v) => v === 'ok' || v === 'configured');
    return { ok, body: { status: ok ? 'ready' : 'not ready', instanceId, checks } };
  };
}
