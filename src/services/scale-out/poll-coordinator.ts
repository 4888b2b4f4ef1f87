import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';

// Who may read a job upstream. In one process that is always this process (LocalPollCoordinator). With several
// instances (RedisPollCoordinator) each unfinished job is read by one instance at a time, the holder of its lease:
//
//   <prefix>lease:job:<jobId>  = <instanceId>, PX ttl   taken with SET NX, renewed by compare-and-pexpire, released
//                                                      by compare-and-del; when the holder dies it expires and the
//                                                      next instance whose poll comes due takes it.
//   <prefix>watch:<jobId>      sorted set: member <instanceId>, score = when that instance's interest expires. Each
//                                                      instance with subscribers to the job refreshes its member; the
//                                                      holder counts the others' live members, so a job watched on A
//                                                      and leased by B is read by B at the watched cadence.
//
// All times in the scripts are Redis's own clock (TIME), so instances' clocks need not agree.

export type LeaseClaim =
  | { held: true }
  /** Another instance holds the lease; ask again after `retryInMs` (when it would expire unless renewed). */
  | { held: false; retryInMs: number };

export interface PollCoordinator {
  /** This process's id in leases and watch sets (also in /ready and the start-up log). */
  readonly instanceId: string;
  /** Takes or keeps the job's lease: true when this instance may read the job upstream now. */
  claim(jobId: string): Promise<LeaseClaim>;
  /** Gives the lease up (the job is final, or this instance stops). Only this instance's own lease is removed. */
  release(jobId: string): Promise<void>;
  /** Shares this instance's interest: while true, the job is polled at the watched cadence by whoever holds it. */
  setWatched(jobId: string, watched: boolean): void;
  /** Whether subscribers on other instances watch a job this instance holds. */
  isWatchedElsewhere(jobId: string): boolean;
  /** Called when isWatchedElsewhere(jobId) changes. */
  onWatchChange(listener: (jobId: string) => void): void;
  start(): void;
  /** Releases every lease and watch this instance holds. */
  stop(): Promise<void>;
}

/** One instance: it holds every lease, and nobody else watches. */
export class LocalPollCoordinator implements PollCoordinator {
  constructor(readonly instanceId: string = randomUUID()) {}
  claim(): Promise<LeaseClaim> {
    return Promise.resolve({ held: true });
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
  setWatched(): void {}
  isWatchedElsewhere(): boolean {
    return false;
  }
  onWatchChange(): void {}
  start(): void {}
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

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

type ScriptName = 'leaseClaim' | 'leaseRenew' | 'leaseRelease' | 'watchTouch';
type ScriptedRedis = Redis & Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;

function withScripts(redis: Redis): ScriptedRedis {
  const scripts: Record<ScriptName, [number, string]> = {
    leaseClaim: [2, CLAIM],
    leaseRenew: [2, RENEW],
    leaseRelease: [1, RELEASE],
    watchTouch: [1, WATCH],
  };
  for (const [name, [numberOfKeys, lua]] of Object.entries(scripts)) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua });
  }
  return redis as ScriptedRedis;
}

export interface RedisPollCoordinatorOptions {
  redis: Redis;
  /** Put before every key, e.g. `aiedit:`. */
  keyPrefix: string;
  /** How long a lease lives without renewal: another instance takes a dead holder's jobs after at most this long. */
  leaseTtlMs: number;
  logger: Logger;
  instanceId?: string;
  /** How often leases and watches are renewed (default ttl / 3, so two renewals may fail before one expires). */
  renewIntervalMs?: number;
}

/** Leases and shared watch interest in Redis: see the top of this file. */
export class RedisPollCoordinator implements PollCoordinator {
  readonly instanceId: string;
  private readonly redis: ScriptedRedis;
  private readonly logger: Logger;
  private readonly held = new Set<string>();
  private readonly watchedHere = new Set<string>();
  private readonly watchedElsewhere = new Set<string>();
  private readonly listeners: ((jobId: string) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(private readonly options: RedisPollCoordinatorOptions) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.redis = withScripts(options.redis);
    this.logger = options.logger.child({ component: 'poll-coordinator', instanceId: this.instanceId });
  }

  leaseKey(jobId: string): string {
    return `${this.options.keyPrefix}lease:job:${jobId}`;
  }

  watchKey(jobId: string): string {
    return `${this.options.keyPrefix}watch:${jobId}`;
  }

  /** Jobs whose lease this instance believes it holds. */
  heldJobs(): string[] {
    return [...this.held];
  }

  start(): void {
    if (this.timer) return;
    const every = this.options.renewIntervalMs ?? Math.max(50, Math.floor(this.options.leaseTtlMs / 3));
    this.timer = setInterval(() => {
      this.ticking ??= this.renew().finally(() => (this.ticking = undefined));
    }, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    const pipeline = this.redis.pipeline();
    for (const jobId of this.held)
      (pipeline as unknown as ScriptedRedis).leaseRelease(this.leaseKey(jobId), this.instanceId);
    for (const jobId of this.watchedHere) pipeline.zrem(this.watchKey(jobId), this.instanceId);
    this.held.clear();
    this.watchedHere.clear();
    await pipeline.exec().catch((err: unknown) => this.logger.warn({ err }, 'could not release leases on stop'));
  }

  async claim(jobId: string): Promise<LeaseClaim> {
    try {
      const [state, others] = (await this.redis.leaseClaim(
        this.leaseKey(jobId),
        this.watchKey(jobId),
        this.instanceId,
        this.options.leaseTtlMs,
      )) as [number, number];
      if (state === -1) {
        if (!this.held.has(jobId)) this.logger.debug({ jobId }, 'lease taken');
        this.held.add(jobId);
        this.setWatchedElsewhere(jobId, others > 0);
        return { held: true };
      }
      this.dropHeld(jobId);
      // PTTL is -1 for a key without expiry (never written so) and -2 when it vanished in between: ask again soon.
      return { held: false, retryInMs: state > 0 ? state : Math.min(100, this.options.leaseTtlMs) };
    } catch (err) {
      // Without Redis we cannot know who reads: read nothing rather than everything, and ask again shortly.
      this.logger.warn({ err, jobId }, 'could not claim a job lease');
      this.dropHeld(jobId);
      return { held: false, retryInMs: Math.min(1000, this.options.leaseTtlMs) };
    }
  }

  async release(jobId: string): Promise<void> {
    if (!this.held.has(jobId)) return;
    this.dropHeld(jobId);
    await this.redis
      .leaseRelease(this.leaseKey(jobId), this.instanceId)
      .catch((err: unknown) => this.logger.warn({ err, jobId }, 'could not release a job lease'));
  }

  setWatched(jobId: string, watched: boolean): void {
    if (watched) {
      this.watchedHere.add(jobId);
      void this.redis
        .watchTouch(this.watchKey(jobId), this.instanceId, this.options.leaseTtlMs)
        .catch((err: unknown) => this.logger.warn({ err, jobId }, 'could not share a watch'));
    } else if (this.watchedHere.delete(jobId)) {
      void this.redis
        .zrem(this.watchKey(jobId), this.instanceId)
        .catch((err: unknown) => this.logger.warn({ err, jobId }, 'could not withdraw a watch'));
    }
  }

  isWatchedElsewhere(jobId: string): boolean {
    return this.watchedElsewhere.has(jobId);
  }

  onWatchChange(listener: (jobId: string) => void): void {
    this.listeners.push(listener);
  }

  /** One round trip: renews every held lease (learning who watches those jobs) and refreshes this instance's watches. */
  async renew(): Promise<void> {
    const heldNow = [...this.held];
    if (heldNow.length === 0 && this.watchedHere.size === 0) return;
    const pipeline = this.redis.pipeline() as unknown as ScriptedRedis & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const jobId of heldNow)
      pipeline.leaseRenew(this.leaseKey(jobId), this.watchKey(jobId), this.instanceId, this.options.leaseTtlMs);
    for (const jobId of this.watchedHere)
      pipeline.watchTouch(this.watchKey(jobId), this.instanceId, this.options.leaseTtlMs);
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      this.logger.warn({ err }, 'could not renew job leases');
      return;
    }
    heldNow.forEach((jobId, i) => {
      const [error, reply] = results?.[i] ?? [new Error('no reply'), null];
      if (error) return; // Kept for now: the lease may still be ours; the next renewal or claim tells.
      const [ok, others] = reply as [number, number];
      if (ok !== 1) {
        if (this.held.has(jobId)) this.logger.info({ jobId }, 'lease lost to another instance');
        this.dropHeld(jobId);
        return;
      }
      this.setWatchedElsewhere(jobId, others > 0);
    });
  }

  private dropHeld(jobId: string): void {
    this.held.delete(jobId);
    this.setWatchedElsewhere(jobId, false);
  }

  private setWatchedElsewhere(jobId: string, watched: boolean): void {
    if (watched === this.watchedElsewhere.has(jobId)) return;
    if (watched) this.watchedElsewhere.add(jobId);
    else this.watchedElsewhere.delete(jobId);
    for (const listener of this.listeners) listener(jobId);
  }
}
