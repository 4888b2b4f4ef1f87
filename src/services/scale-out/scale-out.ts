import type { TypedEventTarget } from '@graphql-yoga/typed-event-target';
import { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';
import type { LimiterFactory, SharedBudgetGate } from '../upstream/budget-types.js';
import { LocalPollCoordinator, type PollCoordinator, RedisPollCoordinator } from './poll-coordinator.js';
import { RedisBudgetGate, redisLimiterFactory } from './redis-budget.js';
import { createPrefixedRedisEventTarget } from './redis-event-target.js';

// What lets several gateway instances behind one load balancer behave like one (REDIS_URL): pub/sub on Redis, job
// leases with shared watch interest, and one upstream budget. Without REDIS_URL every piece is this process's own.

export interface ScaleOut {
  /** This process's id: the value of the job leases it holds; shown in /ready and the start-up log. */
  readonly instanceId: string;
  /** Carries job events between instances (undefined: this process's own, in memory). */
  readonly eventTarget: TypedEventTarget<CustomEvent> | undefined;
  readonly coordinator: PollCoordinator;
  /** For the RateBudget: limiter windows and spacing shared by every instance (undefined: this process's own). */
  readonly limiterFactory: LimiterFactory | undefined;
  readonly sharedBudget: SharedBudgetGate | undefined;
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
      limiterFactory: undefined,
      sharedBudget: undefined,
      rescanIntervalMs: 0,
      ping: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }

  const log = logger.child({ component: 'redis' });
  const connect = async (name: string): Promise<Redis> => {
    const client = new Redis(redisUrl, {
      lazyConnect: true,
      connectionName: `aiedit-gateway-${name}`,
      maxRetriesPerRequest: 2,
    });
    client.on('error', (err: Error) => log.warn({ err, connection: name }, 'redis connection error'));
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      // The URL may carry a password: name the variable, not the value.
      throw new Error(`REDIS_URL: could not connect to Redis (${(error as Error).message})`);
    }
    return client;
  };
  const commands = await connect('commands');
  let subscriber: Redis;
  try {
    subscriber = await connect('subscriber');
  } catch (error) {
    commands.disconnect();
    throw error;
  }

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
    }),
    coordinator,
    limiterFactory: redisLimiterFactory(commands, prefix),
    sharedBudget: new RedisBudgetGate(commands, prefix, logger),
    rescanIntervalMs: scaleOut.rescanIntervalMs,
    async ping() {
      await commands.ping();
    },
    async close() {
      await coordinator.stop();
      await Promise.allSettled([subscriber.quit(), commands.quit()]);
    },
  };
}
