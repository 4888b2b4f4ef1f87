import { type Child, spawnChild } from './child.js';
import type { DurationSpec } from './durations.js';

export const GATEWAY_CORE = 0;
/** The simulator shares the load generator's core: its renders must not eat the gateway's CPU or show in its RSS. */
export const SIMULATOR_CORE = 1;

export interface SimulatorArgs {
  stepMs: number;
  rateLimit?: { perSecond: number; perMinute: number } | false;
  /** Claid's generation limit on submits (1/s, 60/min), enforced when set. */
  generationLimit?: { perSecond: number; perMinute: number } | false;
  /** Per-task times drawn from this distribution instead of the stepMs walk (bench/lib/durations.ts). */
  durations?: DurationSpec;
}

/**
 * Without `rateLimit` the simulator still sends RateLimit-* headers computed against Claid's 4/s and 120/min, and the
 * gateway's budget obeys them; so "no limit" here means an enforced limit no benchmark reaches.
 */
export const UNLIMITED = { perSecond: 1_000_000, perMinute: 60_000_000 };

export function startSimulatorChild(args: SimulatorArgs, verbose = false): Promise<Child> {
  return spawnChild('simulator', 'simulator', {
    core: SIMULATOR_CORE,
    args: { rateLimit: UNLIMITED, ...args },
    verbose,
  });
}

/**
 * The gateway as `npm start` would run it, on the given simulator, with an in-memory store unless env says otherwise.
 * `name` labels its log lines and errors (several gateways in one scenario).
 */
export function startGatewayChild(
  simulatorUrl: string,
  env: Record<string, string>,
  verbose = false,
  name = 'gateway',
): Promise<Child> {
  return spawnChild(name, 'gateway', {
    core: GATEWAY_CORE,
    exposeGc: true,
    verbose,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      CLAID_API_KEY: '',
      CLAID_API_URL: simulatorUrl,
      SIMULATOR_PORT: '0',
      DATABASE_URL: 'sqlite::memory:',
      REDIS_URL: '',
      LOG_LEVEL: 'warn',
      POLL_INTERVAL_MS: '1000',
      UPSTREAM_MAX_RPS: '1000',
      UPSTREAM_MAX_RPM: '60000',
      UPSTREAM_MAX_SUBMITS_PER_SECOND: '1000',
      UPSTREAM_MAX_SUBMITS_PER_MINUTE: '60000',
      // All load comes from one anonymous caller on loopback: lift the per-caller spend limits (src/auth/limits.ts).
      MAX_SUBMITS_PER_MINUTE: '100000',
      MAX_CREDITS_PER_DAY: '100000000',
      MAX_UNFINISHED_JOBS: '1000',
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '10000',
      MAX_SUBSCRIPTIONS_PER_CALLER: '100000',
      ...env,
    },
  });
}
