import { spawnChild, type Child } from './child.js';

export const GATEWAY_CORE = 0;
/** The simulator shares the load generator's core: its renders must not eat the gateway's CPU or show in its RSS. */
export const SIMULATOR_CORE = 1;

export interface SimulatorArgs {
  stepMs: number;
  rateLimit?: { perSecond: number; perMinute: number } | false;
}

export function startSimulatorChild(args: SimulatorArgs, verbose = false): Promise<Child> {
  return spawnChild('simulator', 'simulator', { core: SIMULATOR_CORE, args, verbose });
}

/** The gateway as `npm start` would run it, on the given simulator, with an in-memory store unless env says otherwise. */
export function startGatewayChild(simulatorUrl: string, env: Record<string, string>, verbose = false): Promise<Child> {
  return spawnChild('gateway', 'gateway', {
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
      ...env,
    },
  });
}
