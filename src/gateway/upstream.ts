import { randomBytes } from 'node:crypto';
import type { Logger } from '../lib/logger.js';
import type { Tracer } from '../lib/spans.js';
import {
  type ClaidClient,
  createClaidClient,
  type UpstreamBudget,
  type UpstreamCallObservation,
} from '../services/upstream/claid-client.js';
import type { Simulator } from '../simulator/server.js';
import type { Config } from './config.js';
import { listenError } from './start-errors.js';

// Who answers the gateway's Claid calls: Claid itself (CLAID_API_KEY), a simulator elsewhere (CLAID_API_URL alone),
// or the embedded simulator, which listens only when the gateway does.

export interface Upstream {
  readonly client: ClaidClient;
  /** The embedded simulator once listening; undefined before, and always when another upstream is configured. */
  readonly simulator: Simulator | undefined;
  /** False while the embedded simulator is not listening yet. */
  readonly configured: boolean;
  /** What Claid's webhooks are signed with: CLAID_WEBHOOK_SECRET, or one generated for the embedded simulator. */
  readonly webhookSecret: string | undefined;
  /** Has the embedded simulator push its notifications to the gateway's `url`; a no-op for any other upstream. */
  pushWebhooksTo(url: string): void;
  /** Starts the embedded simulator, if that is the upstream; a no-op otherwise. */
  listen(): Promise<void>;
  /** Closes the client, then the embedded simulator. */
  close(): Promise<void>;
}

const SIMULATOR_DEFAULT_KEY = 'simulator-key';

export function pickUpstream(
  config: Config,
  budget: UpstreamBudget,
  logger: Logger,
  onCall?: (call: UpstreamCallObservation) => void,
  tracer?: Tracer,
): Upstream {
  const clientFor = (baseUrl: string, apiKey: string) =>
    createClaidClient({
      baseUrl,
      apiKey,
      timeoutMs: config.claid.timeoutMs,
      retries: config.claid.retries,
      logger,
      budget,
      ...(onCall ? { onCall } : {}),
      ...(tracer ? { tracer } : {}),
    });
  const { apiKey, apiUrl } = config.claid;
  if (apiUrl) {
    if (!apiKey) logger.info({ upstream: apiUrl }, 'no CLAID_API_KEY: talking to a simulator at CLAID_API_URL');
    const client = clientFor(apiUrl, apiKey ?? SIMULATOR_DEFAULT_KEY);
    return {
      client,
      simulator: undefined,
      configured: true,
      webhookSecret: config.webhook.secret,
      pushWebhooksTo: () => {},
      listen: async () => {},
      close: () => client.close(),
    };
  }
  return embeddedSimulator(config, logger, clientFor);
}

function embeddedSimulator(
  config: Config,
  logger: Logger,
  clientFor: (baseUrl: string, apiKey: string) => ClaidClient,
): Upstream {
  let simulator: Simulator | undefined;
  let bound: ClaidClient | undefined;
  let closed = false;
  // The embedded simulator and the gateway agree on a secret of their own, so `npm start` shows push without setup.
  const webhookSecret = config.webhook.secret ?? randomBytes(32).toString('hex');
  const current = (): ClaidClient => {
    if (!bound) throw new Error('the embedded Claid simulator is not listening yet');
    return bound;
  };
  // The simulator's URL (and so the real client) exists only once it listens; until then calls fail like a refused
  // connection would.
  const client: ClaidClient = {
    submit: async (request) => current().submit(request),
    getTask: async (upstreamId) => current().getTask(upstreamId),
    close: async () => {
      closed = true;
      await bound?.close();
    },
  };
  return {
    client,
    get simulator() {
      return simulator;
    },
    get configured() {
      return bound !== undefined;
    },
    webhookSecret,
    pushWebhooksTo(url) {
      simulator?.control.setWebhook({ url, secret: webhookSecret });
    },
    async listen() {
      if (simulator || closed) return;
      // Loaded only here: the simulator brings sharp (tens of MB) that a gateway in front of Claid never needs.
      const { startSimulator } = await import('../simulator/server.js');
      simulator = await startSimulator({
        port: config.simulator.port,
        stepMs: config.simulator.stepMs,
        dataDir: config.simulator.dataDir,
        logger: logger.child({ component: 'simulator' }),
      }).catch((error: unknown) => {
        throw listenError('SIMULATOR_PORT', config.simulator.port, error);
      });
      bound = clientFor(simulator.url, simulator.apiKey);
      logger.info(
        { upstream: simulator.url, sampleInput: simulator.sampleUrl() },
        'no CLAID_API_KEY: using the embedded Claid simulator',
      );
    },
    async close() {
      await client.close();
      await simulator?.close();
    },
  };
}
