import type { Redis } from 'ioredis';

// The Lua behind RedisPollCoordinator (poll-coordinator.ts describes the keys). All times are Redis's own clock.

const NOW_MS = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Live watchers of KEYS[2] other than ARGV[1], dropping expired members first. Needs `now`. */
const OTHER_WATCHERS = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local others = redis.call('ZCARD', KEYS[2])
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then others = others - 1 end`;

// KEYS: lease, watch. ARGV: instanceId, ttlMs. Returns {-1, otherWatchers} when held, else {pttl, 0}.
const CLAIM = `${NOW_MS}
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {redis.call('PTTL', KEYS[1]), 0}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
${OTHER_WATCHERS}
return {-1, others}`;

// KEYS: lease, watch. ARGV: instanceId, ttlMs. Returns {1, otherWatchers} when still ours and renewed, else {0, 0}.
const RENEW = `${NOW_MS}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, 0} end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
${OTHER_WATCHERS}
return {1, others}`;

// KEYS: lease. ARGV: instanceId.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

// KEYS: watch. ARGV: instanceId, ttlMs.
const WATCH = `${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

// KEYS: watch sets. ARGV: instanceId, ttlMs. watchTouch for every key, in one call (the renewal of all of an instance's
// watches). Returns how many.
const WATCH_ALL = `${NOW_MS}
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2])
end
return #KEYS`;

type ScriptName = 'leaseClaim' | 'leaseRenew' | 'leaseRelease' | 'watchTouch' | 'watchTouchAll';
export type ScriptedRedis = Redis & Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;

export function withScripts(redis: Redis): ScriptedRedis {
  // undefined: the call's first argument says how many keys follow.
  const scripts: Record<ScriptName, [number | undefined, string]> = {
    leaseClaim: [2, CLAIM],
    leaseRenew: [2, RENEW],
    leaseRelease: [1, RELEASE],
    watchTouch: [1, WATCH],
    watchTouchAll: [undefined, WATCH_ALL],
  };
  for (const [name, [numberOfKeys, lua]] of Object.entries(scripts)) {
    if (!(name in redis)) redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  }
  return redis as ScriptedRedis;
}
