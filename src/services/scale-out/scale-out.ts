import type { TypedEventTarget } from '@graphql-yoga/typed-event-target';
import { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';
import type { SharedBudgetGate } from '../upstream/budget-types.js';
import type { GrantWindowsFactory } from '../upstream/grant-log.js';
import { LocalPollCoordinator, type PollCoordinator, RedisPollCoordinator } from './poll-coordinator.js';
import { RedisBudgetGate } from './redis-budget.js';
import { createPrefixedRedisEventTarget } from './redis-event-target.js';
import { redisGrantWindowsFactory } from './redis-grant-windows.js';

// What lets several gateway instances behind one load balancer behave like one (REDIS_URL): pub/sub on Redis, job
// leases with shared watch interest, and one upstream budget. Without REDIS_URL every piece is this process's own.

export interface ScaleOut {
  /** This process's id: the value of the job leases it holds; shown in /ready and the start-up log. */
  readonly instanceId: string;
  /** Carries job events between instances (undefined: this process's own, in memory). */
  readonly eventTarget: TypedEventTarget<CustomEvent> | undefined;
  readonly coordinator: PollCoordinator;
  /** For both budgets: grant logs shared by every instance (undefined: this process's own). */
  readonly grantWindows: GrantWindowsFactory | undefined;
  readonly sharedBudget: SharedBudgetGate | undefined;
  /** For the GenerationBudget: its spacing shared by every instance (its windows come from grantWindows). */
  readonly sharedGenerations: SharedBudgetGate | undefined;
  /** How often the poller looks for jobs submitted elsewhere (0: only at start). */
  readonly rescanIntervalMs: number;
  /** Throws when Redis does not answer (for /ready); resolves at once without Redis. */
  ping(): Promise<void>;
  /** Gives up leases and watches, then closes the Redis connections. Call after the poller has stopped. */
  close(): Promise<void>;
}

export interface ScaleOutOptions {
  /** REDIS_URL; undefined: one instance alone. */
  redisUrl: string | undefined;
  keyPrefix: string;
  leaseTtlMs: number;
  rescanIntervalMs: number;
  /** Fixed instance id (tests); else a fresh one. */
  instanceId: string | undefined;
}

export async function openScaleOut(options: ScaleOutOptions, logger: Logger): Promise<ScaleOut> {
  const { redisUrl, ...scaleOut } = options;
  if (!redisUrl) {
    const coordinator = new LocalPollCoordinator(scaleOut.instanceId);
    return {
      instanceId: coordinator.instanceId,
      eventTarget: undefined,
      coordinator,
      grantWindows: undefined,
      sharedBudget: undefined,
      sharedGenerations: undefined,
      rescanIntervalMs: 0,
      ping: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }

  const log = logger.child({ component: 'redis' });
  const commands = openConnection(redisUrl, 'commands', log);
  const subscriber = openConnection(redisUrl, 'subscriber', log);
  // A moment for Redis to answer, so that a normal start is ready at once; never longer: without Redis the gateway
  // starts all the same (not ready) and joins when it comes.
  const connected = await bothReady([commands, subscriber], FIRST_CONNECT_WAIT_MS);
  if (!connected) log.warn('Redis not reachable yet: starting without it (/ready 503 until it answers)');

  const prefix = scaleOut.keyPrefix;
  const coordinator = new RedisPollCoordinator({
    redis: commands,
    keyPrefix: prefix,
    leaseTtlMs: scaleOut.leaseTtlMs,
    logger,
    ...(scaleOut.instanceId ? { instanceId: scaleOut.instanceId } : {}),
  });
  coordinator.start();
  log.info(
    { instanceId: coordinator.instanceId, keyPrefix: prefix, leaseTtlMs: scaleOut.leaseTtlMs },
    'scale-out on Redis: shared pub/sub, job leases and upstream budget',
  );

  return {
    instanceId: coordinator.instanceId,
    eventTarget: createPrefixedRedisEventTarget({
      publishClient: commands,
      subscribeClient: subscriber,
      channelPrefix: prefix,
      instanceId: coordinator.instanceId,
      logger,
    }),
    coordinator,
    grantWindows: redisGrantWindowsFactory(commands, prefix, logger),
    sharedBudget: new RedisBudgetGate(commands, prefix, logger),
    sharedGenerations: new RedisBudgetGate(commands, `${prefix}generations:`, logger),
    rescanIntervalMs: scaleOut.rescanIntervalMs,
    async ping() {
      // Without the subscriber connection this instance would miss other instances' events: not ready either.
      if (subscriber.status !== 'ready') throw new Error(`Redis subscriber connection is ${subscriber.status}`);
      await commands.ping();
    },
    async close() {
      await coordinator.stop();
      await Promise.allSettled([closeConnection(subscriber), closeConnection(commands)]);
    },
  };
}

const FIRST_CONNECT_WAIT_MS = 1000;
/** Reconnect attempts back off to at most this; the coordinator's rejoin grace (2 s) must stay longer. */
const MAX_RECONNECT_DELAY_MS = 1000;
const COMMAND_TIMEOUT_MS = 2000;

/**
 * A connection that never makes anyone wait for Redis: it connects in the background and reconnects forever, and
 * while it is down every command fails at once (no offline queue) or within COMMAND_TIMEOUT_MS (one sent just
 * before the cut), so nothing piles up and every caller falls back straight away. Commands cut off are not sent
 * again on reconnect: a lease claim replayed later would take a lease nobody here knows of.
 */
function openConnection(redisUrl: string, name: string, log: Logger): Redis {
  const client = new Redis(redisUrl, {
    connectionName: `aiedit-gateway-${name}`,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // The event target subscribes again itself on 'ready' (redis-event-target.ts says why).
    autoResubscribe: false,
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  });
  // One warning per outage, not one per reconnect attempt; the rest at debug.
  let warned = false;
  client.on('error', (err: Error) => {
    if (warned) return log.debug({ err, connection: name }, 'redis connection error');
    warned = true;
    log.warn({ err, connection: name }, 'redis connection error; reconnecting in the background');
  });
  client.on('ready', () => {
    if (warned) log.info({ connection: name }, 'redis connection back');
    warned = false;
  });
  return client;
}

/** Whether every client is ready within `ms`. */
async function bothReady(clients: Redis[], ms: number): Promise<boolean> {
  const ready = (client: Redis) =>
    new Promise<void>((resolve) => (client.status === 'ready' ? resolve() : client.once('ready', () => resolve())));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([Promise.all(clients.map(ready)).then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

/** QUIT when connected (replies still owed arrive first), else drop the socket and stop reconnecting. */
async function closeConnection(client: Redis): Promise<void> {
  if (client.status !== 'ready') return client.disconnect();
  await client.quit().catch(() => client.disconnect());
}
