import type { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';
import {
  type GrantLogSpec,
  type GrantWindows,
  type GrantWindowsFactory,
  MemoryGrantWindows,
  paceFloorMs,
  paceFromIndex,
  windowWidths,
} from '../upstream/grant-log.js';

// The grant log (upstream/grant-log.ts) shared by every instance on one Redis: one list per budget and account,
// `<prefix><name>:log:<key>`, newest grant first, trimmed to the longer window's limit, on Redis's clock. One script
// applies the same rule as waitBeforeGrant and records the grant, so that two instances never both take the last
// one. While Redis does not answer, each instance stands in with its own memory log (as an insurance limiter does).

// KEYS: log. ARGV: perSecond, perMinute, secondWindowMs, minuteWindowMs, paceFromIndex (1-based), paceFloorMs, keep,
// record (1: take the grant; 0: only say how long it would wait). Returns { waitMs, now }: waitMs 0 when the grant
// was (or would be) made at `now`. The rule is waitBeforeGrant's.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local perSecond, perMinute = tonumber(ARGV[1]), tonumber(ARGV[2])
local secondMs, minuteMs = tonumber(ARGV[3]), tonumber(ARGV[4])
local recent = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[7]) - 1)
local inSecond = tonumber(recent[perSecond] or '0')
if inSecond > now - secondMs then return { inSecond + secondMs - now, now } end
local inMinute = 0
while inMinute < #recent and tonumber(recent[inMinute + 1]) > now - minuteMs do inMinute = inMinute + 1 end
if inMinute > 0 then
  local oldestLeavesIn = tonumber(recent[inMinute]) + minuteMs - now
  if inMinute >= perMinute then return { oldestLeavesIn, now } end
  if inMinute >= tonumber(ARGV[5]) then
    local gap = math.max(tonumber(ARGV[6]), oldestLeavesIn / (perMinute - inMinute + 1))
    local wait = tonumber(recent[1]) + gap - now
    if wait > 0 then return { math.ceil(wait), now } end
  end
end
if ARGV[8] ~= '1' then return { 0, now } end
redis.call('LPUSH', KEYS[1], now)
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[7]) - 1)
redis.call('PEXPIRE', KEYS[1], minuteMs + 1000)
return { 0, now }`;

// KEYS: log. ARGV: secondWindowMs, minuteWindowMs, perSecond, perMinute. Returns { grants left now, in the minute }.
const REMAINING = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local inSecond, inMinute = 0, 0
for _, at in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ms = tonumber(at)
  if ms > now - tonumber(ARGV[1]) then inSecond = inSecond + 1 end
  if ms > now - tonumber(ARGV[2]) then inMinute = inMinute + 1 end
end
return { math.max(0, math.min(tonumber(ARGV[3]) - inSecond, tonumber(ARGV[4]) - inMinute)), inMinute }`;

type LogRedis = Redis & {
  grantLogTake(key: string, ...args: number[]): Promise<[number, number]>;
  grantLogRemaining(key: string, ...args: number[]): Promise<[number, number]>;
};

export class RedisGrantWindows implements GrantWindows {
  readonly #redis: LogRedis;
  readonly #fallback: MemoryGrantWindows;
  /** The grants this process took, newest last, for giveBack(): a time recorded in Redis, or its stand-in's. */
  readonly #taken: (number | 'memory')[] = [];

  constructor(
    redis: Redis,
    readonly key: string,
    private readonly spec: GrantLogSpec,
    private readonly logger: Logger,
  ) {
    if (!('grantLogTake' in redis)) {
      redis.defineCommand('grantLogTake', { numberOfKeys: 1, lua: TAKE });
      redis.defineCommand('grantLogRemaining', { numberOfKeys: 1, lua: REMAINING });
    }
    this.#redis = redis as LogRedis;
    this.#fallback = new MemoryGrantWindows(spec);
  }

  async take(): Promise<number> {
    if (this.#redis.status !== 'ready') return this.#takeLocally();
    try {
      const [waitMs, at] = await this.#ask(true);
      if (waitMs > 0) return Math.ceil(waitMs);
      this.#remember(at);
      return 0;
    } catch (err) {
      this.logger.warn({ err }, 'shared grant log failed; this instance counts its own grants meanwhile');
      return this.#takeLocally();
    }
  }

  async waitMs(): Promise<number> {
    if (this.#redis.status !== 'ready') return this.#fallback.waitMs();
    try {
      return Math.ceil((await this.#ask(false))[0]);
    } catch {
      return this.#fallback.waitMs();
    }
  }

  #ask(record: boolean): Promise<[number, number]> {
    const { perSecond, perMinute } = this.spec;
    const { secondMs, minuteMs } = windowWidths(this.spec);
    return this.#redis.grantLogTake(
      this.key,
      perSecond,
      perMinute,
      secondMs,
      minuteMs,
      paceFromIndex(this.spec),
      paceFloorMs(this.spec),
      Math.max(perSecond, perMinute),
      record ? 1 : 0,
    );
  }

  async giveBack(): Promise<void> {
    const at = this.#taken.pop();
    if (at === undefined) return;
    if (at === 'memory') return this.#fallback.giveBack();
    await this.#redis.lrem(this.key, 1, String(at)).catch(() => undefined);
  }

  #takeLocally(): number {
    const wait = this.#fallback.takeNow();
    if (wait === 0) this.#remember('memory');
    return wait;
  }

  #remember(grant: number | 'memory'): void {
    this.#taken.push(grant);
    // giveBack() follows its take() at once; older entries only guard against a mismatch.
    if (this.#taken.length > 16) this.#taken.shift();
  }

  async remaining(): Promise<number> {
    if (this.#redis.status !== 'ready') return this.#fallback.remaining();
    return (await this.#counts())?.[0] ?? 0;
  }

  async usedInMinute(): Promise<number> {
    if (this.#redis.status !== 'ready') return this.#fallback.usedInMinute();
    return (await this.#counts())?.[1] ?? 0;
  }

  /** [grants left, grants in the minute]; undefined when Redis does not answer. */
  async #counts(): Promise<[number, number] | undefined> {
    const { secondMs, minuteMs } = windowWidths(this.spec);
    try {
      const [left, inMinute] = await this.#redis.grantLogRemaining(
        this.key,
        secondMs,
        minuteMs,
        this.spec.perSecond,
        this.spec.perMinute,
      );
      return [Number(left), Number(inMinute)];
    } catch {
      return undefined;
    }
  }
}

/** Grant logs on shared keys under `keyPrefix`. */
export function redisGrantWindowsFactory(redis: Redis, keyPrefix: string, logger: Logger): GrantWindowsFactory {
  return (spec, name, key) => new RedisGrantWindows(redis, `${keyPrefix}${name}:log:${key}`, spec, logger);
}
