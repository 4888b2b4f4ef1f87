import type { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';
import type { SharedBudgetGate } from '../upstream/budget-types.js';

// The upstream budget shared by every instance on one Redis (claid-facts.md: the limits are per account, not per
// process). Three pieces, all keyed under one prefix:
//
//   <prefix>upstream-budget:grants:claid               the grant log (redis-grant-windows.ts): every instance's
//                                                      grants in one sliding window; each instance's own memory log
//                                                      stands in while Redis is unreachable.
//   <prefix>budget:next-at                             the earliest time (Redis clock, ms) the next grant may go out,
//                                                      anywhere: grants are spaced 1/rps apart across instances, as
//                                                      one instance spaces its own, so windows never add up to 2×.
//                                                      10% wider than 1/rps: between a grant and its request reaching
//                                                      the upstream lie a few round trips on a busy process, and
//                                                      across instances that jitter (tens of ms) would otherwise let
//                                                      rps + 1 requests land within one second.
//   <prefix>budget:pause-until                         set by whoever sees a 429 (or a spent quota): every instance
//                                                      waits until then.

/** Shared grants are spaced this much wider than 1/rps (see above). */
const SHARED_SPACING_MARGIN = 1.1;

const NOW_MS = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: next-at, pause-until. ARGV: spacingMs. Returns 0 when a slot was taken, else ms to wait.
const RESERVE = `${NOW_MS}
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > now then return pause - now end
local nextAt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nextAt > now then return nextAt - now end
redis.call('SET', KEYS[1], now + tonumber(ARGV[1]), 'PX', tonumber(ARGV[1]) + 1000)
return 0`;

// KEYS: pause-until. ARGV: ms.
const PAUSE = `${NOW_MS}
local untilMs = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilMs > current then redis.call('SET', KEYS[1], untilMs, 'PX', tonumber(ARGV[1]) + 1000) end
return untilMs`;

type GateRedis = Redis & {
  budgetReserve(nextAtKey: string, pauseKey: string, spacingMs: number): Promise<number>;
  budgetPause(pauseKey: string, ms: number): Promise<number>;
};

/** Shared spacing and 429 pause in Redis. When Redis is not ready, the gate lets the local budget decide. */
export class RedisBudgetGate implements SharedBudgetGate {
  private readonly redis: GateRedis;
  private readonly logger: Logger;
  private readonly nextAtKey: string;
  readonly pauseKey: string;

  constructor(redis: Redis, keyPrefix: string, logger: Logger) {
    if (!('budgetReserve' in redis)) {
      redis.defineCommand('budgetReserve', { numberOfKeys: 2, lua: RESERVE });
      redis.defineCommand('budgetPause', { numberOfKeys: 1, lua: PAUSE });
    }
    this.redis = redis as GateRedis;
    this.nextAtKey = `${keyPrefix}budget:next-at`;
    this.pauseKey = `${keyPrefix}budget:pause-until`;
    this.logger = logger.child({ component: 'upstream-budget' });
  }

  async reserve(spacingMs: number): Promise<number> {
    if (this.redis.status !== 'ready') return 0;
    try {
      return Number(
        await this.redis.budgetReserve(this.nextAtKey, this.pauseKey, Math.ceil(spacingMs * SHARED_SPACING_MARGIN)),
      );
    } catch (err) {
      this.logger.warn({ err }, 'shared budget gate failed; spacing locally');
      return 0;
    }
  }

  async pause(ms: number): Promise<void> {
    if (this.redis.status !== 'ready') return;
    await this.redis
      .budgetPause(this.pauseKey, Math.ceil(ms))
      .catch((err: unknown) => this.logger.warn({ err }, 'could not share an upstream pause'));
  }
}
