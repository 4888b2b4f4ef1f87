import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';
import { type ScriptedRedis, withScripts } from './lease-scripts.js';
import type { LeaseClaim, PollCoordinator } from './poll-coordinator-contract.js';

export { type LeaseClaim, LocalPollCoordinator, type PollCoordinator } from './poll-coordinator-contract.js';

// Who may read a job upstream. In one process that is always this process (LocalPollCoordinator, poll-coordinator-contract.ts). With several
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
//
// While Redis is away nobody can know who holds what, so every lease is treated as lost at once, and an instance
// reads only the jobs it submitted itself: each job has one submitter, so no two instances read it, and that
// submitter's subscribers still see it finish. When Redis returns, an instance claims its submitted jobs at once and
// leaves every other job alone for `rejoinGraceMs`, long enough for the other instances to reconnect and claim
// theirs. (If only this instance loses Redis, another one may take its submitted jobs once their leases expire:
// both then read them until this one is back. docs/operations.md, "When Redis goes away".)

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
  /**
   * After Redis returns, how long jobs neither submitted nor held here are left to the others: longer than the
   * longest reconnect delay, so that every instance is back and has claimed its own first.
   * @default 2000
   */
  rejoinGraceMs?: number;
}

const DEFAULT_REJOIN_GRACE_MS = 2000;
/** Watch sets renewed per script call: a call's keys are its arguments, and it runs alone in Redis while it lasts. */
const WATCHES_PER_CALL = 500;

/** Leases and shared watch interest in Redis: see the top of this file. */
export class RedisPollCoordinator implements PollCoordinator {
  readonly instanceId: string;
  private readonly redis: ScriptedRedis;
  private readonly logger: Logger;
  private readonly held = new Set<string>();
  /** When each held lease was last confirmed: the moment the claim or renewal that said so was sent (see claim). */
  private readonly confirmedAt = new Map<string, number>();
  private readonly watchedHere = new Set<string>();
  private readonly watchedElsewhere = new Set<string>();
  private readonly submitted = new Set<string>();
  private readonly listeners: ((jobId: string) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** Redis went away and has not been back (a process that starts without Redis starts away). */
  private away: boolean;
  private awaySince = 0;
  private rejoinUntil = 0;
  private readonly onClose = () => this.wentAway();
  private readonly onReady = () => this.rejoin();

  constructor(private readonly options: RedisPollCoordinatorOptions) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.redis = withScripts(options.redis);
    this.logger = options.logger.child({ component: 'poll-coordinator', instanceId: this.instanceId });
    this.away = this.redis.status !== 'ready';
    if (this.away) this.awaySince = Date.now();
    this.redis.on('close', this.onClose);
    this.redis.on('ready', this.onReady);
  }

  /** Whether Redis can be asked now; when not, leases are lost and only submitted jobs are read. */
  private isAway(): boolean {
    return this.away || this.redis.status !== 'ready';
  }

  private wentAway(): void {
    if (this.away) return;
    this.away = true;
    this.awaySince = Date.now();
    this.logger.warn(
      { leasesLost: this.held.size, readingSubmittedHere: this.submitted.size },
      'Redis away: job leases treated as lost; reading only jobs submitted here until it returns',
    );
    for (const jobId of [...this.held]) this.dropHeld(jobId);
  }

  private rejoin(): void {
    if (!this.away) return;
    this.away = false;
    this.rejoinUntil = Date.now() + (this.options.rejoinGraceMs ?? DEFAULT_REJOIN_GRACE_MS);
    this.logger.info({ claiming: this.submitted.size }, 'Redis back: claiming jobs submitted here, then the rest');
    for (const jobId of this.submitted) void this.claim(jobId);
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
    this.redis.off('close', this.onClose);
    this.redis.off('ready', this.onReady);
    this.submitted.clear();
    const pipeline = this.redis.pipeline();
    for (const jobId of this.held)
      (pipeline as unknown as ScriptedRedis).leaseRelease(this.leaseKey(jobId), this.instanceId);
    for (const jobId of this.watchedHere) pipeline.zrem(this.watchKey(jobId), this.instanceId);
    this.held.clear();
    this.watchedHere.clear();
    // Away, there is nothing to release: whatever this instance held expires by itself.
    if (!this.isAway())
      await pipeline.exec().catch((err: unknown) => this.logger.warn({ err }, 'could not release leases on stop'));
  }

  async claim(jobId: string): Promise<LeaseClaim> {
    if (this.isAway()) return this.claimWhileAway(jobId);
    const graceLeft = this.rejoinUntil - Date.now();
    if (graceLeft > 0 && !this.submitted.has(jobId) && !this.held.has(jobId))
      return { held: false, retryInMs: graceLeft };
    // A lease confirmed less than half its lifetime ago is still this instance's: Redis keeps it a whole ttl from
    // that answer, and only this instance ends it earlier (release), so the poll's claim before every read of a
    // held job needs no round trip. Who watches elsewhere is learned from the renewals meanwhile.
    const confirmed = this.confirmedAt.get(jobId);
    if (confirmed !== undefined && Date.now() - confirmed < this.options.leaseTtlMs / 2) return { held: true };
    const sentAt = Date.now();
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
        this.confirmedAt.set(jobId, sentAt);
        this.setWatchedElsewhere(jobId, others > 0);
        return { held: true };
      }
      this.dropHeld(jobId);
      // PTTL is -1 for a key without expiry (never written so) and -2 when it vanished in between: ask again soon.
      return { held: false, retryInMs: state > 0 ? state : Math.min(100, this.options.leaseTtlMs) };
    } catch (err) {
      // A claim cut short by the connection going away is the outage, which is logged once; anything else is news.
      if (this.isAway()) this.logger.debug({ err, jobId }, 'could not claim a job lease: Redis is away');
      else this.logger.warn({ err, jobId }, 'could not claim a job lease');
      this.dropHeld(jobId);
      return this.isAway()
        ? this.claimWhileAway(jobId)
        : { held: false, retryInMs: Math.min(100, this.options.leaseTtlMs) };
    }
  }

  /** Without Redis nobody can know who reads: this instance reads what it submitted, and nothing else. */
  private claimWhileAway(jobId: string): LeaseClaim {
    if (!this.submitted.has(jobId)) return { held: false, retryInMs: Math.min(1000, this.options.leaseTtlMs) };
    // A lease another instance took just before the cut holds until it expires: wait that out before reading.
    const leftOfOthersLeases = this.awaySince + this.options.leaseTtlMs - Date.now();
    return leftOfOthersLeases > 0 ? { held: false, retryInMs: leftOfOthersLeases } : { held: true };
  }

  submittedHere(jobId: string): void {
    this.submitted.add(jobId);
  }

  async release(jobId: string): Promise<void> {
    this.submitted.delete(jobId);
    if (!this.held.has(jobId)) return;
    this.dropHeld(jobId);
    await this.redis
      .leaseRelease(this.leaseKey(jobId), this.instanceId)
      .catch((err: unknown) => this.logger.warn({ err, jobId }, 'could not release a job lease'));
  }

  setWatched(jobId: string, watched: boolean): void {
    // While Redis is away the interest is kept here only: the first renewal after it returns shares it.
    if (watched) {
      this.watchedHere.add(jobId);
      if (this.isAway()) return;
      void this.redis
        .watchTouch(this.watchKey(jobId), this.instanceId, this.options.leaseTtlMs)
        .catch((err: unknown) => this.logger.warn({ err, jobId }, 'could not share a watch'));
    } else if (this.watchedHere.delete(jobId) && !this.isAway()) {
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
    if (this.isAway()) return this.wentAway();
    const pipeline = this.redis.pipeline() as unknown as ScriptedRedis & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const jobId of heldNow)
      pipeline.leaseRenew(this.leaseKey(jobId), this.watchKey(jobId), this.instanceId, this.options.leaseTtlMs);
    // Every watch of this instance in a few script calls rather than one per job: the renewals were most of the
    // Redis calls a busy instance made.
    const watchKeys = [...this.watchedHere].map((jobId) => this.watchKey(jobId));
    for (let i = 0; i < watchKeys.length; i += WATCHES_PER_CALL) {
      const keys = watchKeys.slice(i, i + WATCHES_PER_CALL);
      pipeline.watchTouchAll(keys.length, ...keys, this.instanceId, this.options.leaseTtlMs);
    }
    let results: [Error | null, unknown][] | null;
    const sentAt = Date.now();
    try {
      results = await pipeline.exec();
    } catch (err) {
      results = null;
      this.logger.warn({ err }, 'could not renew job leases');
    }
    heldNow.forEach((jobId, i) => {
      const [error, reply] = results?.[i] ?? [new Error('no reply'), null];
      // A lease not renewed may expire and go to another instance before this one hears of it: stop reading now,
      // and claim again at the next poll.
      if (error) {
        this.dropHeld(jobId);
        return;
      }
      const [ok, others] = reply as [number, number];
      if (ok !== 1) {
        if (this.held.has(jobId)) this.logger.info({ jobId }, 'lease lost to another instance');
        this.dropHeld(jobId);
        return;
      }
      // Renewed: confirmed as of the renewal's sending (a release meanwhile has already dropped the job).
      if (this.held.has(jobId)) this.confirmedAt.set(jobId, sentAt);
      this.setWatchedElsewhere(jobId, others > 0);
    });
  }

  private dropHeld(jobId: string): void {
    this.held.delete(jobId);
    this.confirmedAt.delete(jobId);
    this.setWatchedElsewhere(jobId, false);
  }

  private setWatchedElsewhere(jobId: string, watched: boolean): void {
    if (watched === this.watchedElsewhere.has(jobId)) return;
    if (watched) this.watchedElsewhere.add(jobId);
    else this.watchedElsewhere.delete(jobId);
    for (const listener of this.listeners) listener(jobId);
  }
}
