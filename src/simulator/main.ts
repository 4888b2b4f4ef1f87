import { createLogger, prettyDestination } from '../lib/logger.js';
import { DEFAULT_SIMULATOR_API_KEY, startSimulator } from './server.js';

// `npm run simulator`: the Claid-compatible simulator on its own, for pointing a gateway or curl at.

function intFromEnv(name: string, fallback: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    console.error(`Invalid ${name}=${JSON.stringify(raw)}: must be a whole number from 0 to ${max}`);
    process.exit(1);
  }
  return value;
}

const logFormat = process.env['LOG_FORMAT']?.trim() || (process.stdout.isTTY ? 'pretty' : 'json');
const logger = createLogger(
  process.env['LOG_LEVEL']?.trim() || 'info',
  logFormat === 'pretty' ? prettyDestination() : undefined,
);
const apiKey = process.env['SIMULATOR_API_KEY']?.trim() || DEFAULT_SIMULATOR_API_KEY;
const dataDir = process.env['SIMULATOR_DATA_DIR']?.trim();
const webhookUrl = process.env['SIMULATOR_WEBHOOK_URL']?.trim();
const webhookSecret = process.env['SIMULATOR_WEBHOOK_SECRET']?.trim() || undefined;

// Claid's generation limit (1/s, 60/min), when both are set above 0: submits beyond it are answered 429.
const generationsPerSecond = intFromEnv('SIMULATOR_MAX_GENERATIONS_PER_SECOND', 0, 1000);
const generationsPerMinute = intFromEnv('SIMULATOR_MAX_GENERATIONS_PER_MINUTE', 0, 60_000);

const simulator = await startSimulator({
  port: intFromEnv('SIMULATOR_PORT', 4010, 65535),
  host: process.env['SIMULATOR_HOST']?.trim() || '127.0.0.1',
  apiKey,
  stepMs: intFromEnv('SIMULATOR_STEP_MS', 1500, 600_000),
  ...(generationsPerSecond > 0 && generationsPerMinute > 0
    ? { generationLimit: { perSecond: generationsPerSecond, perMinute: generationsPerMinute } }
    : {}),
  // Unset: tasks live in memory (ids are still never handed out twice); set: they survive a restart.
  ...(dataDir ? { dataDir } : {}),
  // E.g. http://127.0.0.1:4000/webhooks/claid, with the gateway's CLAID_WEBHOOK_SECRET.
  ...(webhookUrl ? { webhook: { url: webhookUrl, secret: webhookSecret } } : {}),
  logger,
});

// The default key is public; a chosen one is only hinted at.
const keyHint =
  apiKey === DEFAULT_SIMULATOR_API_KEY
    ? apiKey
    : `${apiKey.slice(0, Math.min(3, Math.floor(apiKey.length / 3)))}… (from SIMULATOR_API_KEY)`;
logger.info(
  {
    url: simulator.url,
    keyHint,
    sampleUrl: simulator.sampleUrl(),
    dataDir: dataDir ?? null,
    webhookUrl: webhookUrl ?? null,
    webhookSigned: Boolean(webhookSecret),
  },
  `Claid simulator listening on ${simulator.url} (Bearer ${keyHint}); try input ${simulator.sampleUrl()}`,
);

let stopping = false;
const stop = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'Claid simulator stopping');
  simulator.close().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'Claid simulator did not close cleanly');
      process.exit(1);
    },
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
