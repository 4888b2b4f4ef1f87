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

// The grant log (upstream/grant-log.ts) shared by every instance on one Redis: one sorted set per budget and account,
// `<prefix><name>:grants:<key>`, each grant a member scored by its time on Redis's clock, trimmed to the windows and to
// the longer window's limit. One script applies the same rule as waitBeforeGrant and records the grant, so that two
// instances never both take the last one. While Redis does not answer, each instance stands in with its own memory
// log (as an insurance limiter does).
//
// A sorted set rather than a list: the rule reads four places of the log (the perSecond-th newest grant, the newest,
// the oldest inside the minute, how many are inside it), which a sorted set answers in O(log n) each. A list had to be
// read whole up to the minute's edge on every grant: with a high limit (60,000 a minute, as the benchmarks set) that
// was thousands of entries converted in Lua per grant, most of what Redis spent. (It was `:log:` as a list; the new
// key name keeps a rolling upgrade from meeting a key of the other type.)

// KEYS: log. ARGV: perSecond, perMinute, secondWindowMs, minuteWindowMs, paceFromIndex (1-based), paceFloorMs, keep,
// record (1: take the grant; 0: only say how long it would wait). Returns { waitMs, now, member }: waitMs 0 when the
// grant was (or would be) made at `now`; member, the grant's entry when one was recorded. The rule is waitBeforeGrant's.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local perSecond, perMinute = tonumber(ARGV[1]), tonumber(ARGV[2])
local secondMs, minuteMs = tonumber(ARGV[3]), tonumber(ARGV[4])
local log = KEYS[1]
-- Grants outside both windows can no longer matter.
redis.call('ZREMRANGEBYSCORE', log, '-inf', now - math.max(secondMs, minuteMs))
local nth = redis.call('ZREVRANGE', log, perSecond - 1, perSecond - 1, 'WITHSCORES')[2]
if nth and tonumber(nth) > now - secondMs then return { tonumber(nth) + secondMs - now, now, '' } end
local inMinute = redis.call('ZCOUNT', log, '(' .. (now - minuteMs), '+inf')
if inMinute > 0 then
  local oldest = redis.call('ZRANGEBYSCORE', log, '(' .. (now - minuteMs), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)[2]
  local oldestLeavesIn = tonumber(oldest) + minuteMs - now
  if inMinute >= perMinute then return { oldestLeavesIn, now, '' } end
  if inMinute >= tonumber(ARGV[5]) then
    local gap = math.max(tonumber(ARGV[6]), oldestLeavesIn / (perMinute - inMinute + 1))
    local newest = redis.call('ZREVRANGE', log, 0, 0, 'WITHSCORES')[2]
    local wait = tonumber(newest) + gap - now
    if wait > 0 then return { math.ceil(wait), now, '' } end
  end
end
if ARGV[8] ~= '1' then return { 0, now, '' } end
-- Redis's microseconds make the member; two grants in one microsecond (one script runs at a time) get a suffix.
local member = t[1] .. '.' .. t[2]
while redis.call('ZSCORE', log, member) do member = member .. '+' end
redis.call('ZADD', log, now, member)
redis.call('ZREMRANGEBYRANK', log, 0, -tonumber(ARGV[7]) - 1)
redis.call('PEXPIRE', log, math.max(secondMs, minuteMs) + 1000)
return { 0, now, member }`;

// KEYS: log. ARGV: secondWindowMs, minuteWindowMs, perSecond, perMinute. Returns { grants left now, in the minute }.
const REMAINING = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local inSecond = redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
local inMinute = redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[2])), '+inf')
return { math.max(0, math.min(tonumber(ARGV[3]) - inSecond, tonumber(ARGV[4]) - inMinute)), inMinute }`;

type LogRedis = Redis & {
  grantLogTake(key: string, ...args: number[]): Promise<[number, number, string]>;
  grantLogRemaining(key: string, ...args: number[]): Promise<[number, number]>;
};

export class RedisGrantWindows implements GrantWindows {
  readonly #redis: LogRedis;
  readonly #fallback: MemoryGrantWindows;
  /** The grants this process took, newest last, for giveBack(): a member recorded in Redis, or its stand-in's. */
  readonly #taken: (string | 'memory')[] = [];

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
      const [waitMs, , member] = await this.#ask(true);
      if (waitMs > 0) return Math.ceil(waitMs);
      this.#remember(member);
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

  #ask(record: boolean): Promise<[number, number, string]> {
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
    await this.#redis.zrem(this.key, at).catch(() => undefined);
  }

  #takeLocally(): number {
    const wait = this.#fallback.takeNow();
    if (wait === 0) this.#remember('memory');
    return wait;
  }

  #remember(grant: string): void {
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
  return (spec, name, key) => new RedisGrantWindows(redis, `${keyPrefix}${name}:grants:${key}`, spec, logger);
}
