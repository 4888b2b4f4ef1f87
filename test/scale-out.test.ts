import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../src/domain/job.js';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { loadConfig } from '../src/gateway/config.js';
import { createLogger } from '../src/lib/logger.js';
import { createJobPubSub, publishJobUpdated } from '../src/services/jobs/job-events.js';
import { RedisPollCoordinator } from '../src/services/scale-out/poll-coordinator.js';
import { RedisBudgetGate } from '../src/services/scale-out/redis-budget.js';
import {
  createPrefixedRedisEventTarget,
  dateRevivingSerializer,
} from '../src/services/scale-out/redis-event-target.js';
import { redisGrantWindowsFactory } from '../src/services/scale-out/redis-grant-windows.js';
import { RateBudget } from '../src/services/upstream/rate-budget.js';
import { gql, SUBMIT, startTestGateway } from './support/gateway.js';
import { sleep, waitFor } from './support/poller-harness.js';
import { dropKeys, freshKeyPrefix, redisClient, testRedisUrl } from './support/redis.js';
import { collect, UPDATED, wsClient } from './support/subscriptions.js';
import { claidResult, startTestUpstream, type TestUpstream, taskPath } from './support/test-upstream.js';

const logger = createLogger('silent');

function sampleJob(): Job {
  const at = new Date('2026-01-02T03:04:05.678Z');
  return {
    id: '0b6d3c9e-0000-4000-8000-000000000001',
    owner: 'alice',
    upstreamId: 7,
    status: 'DONE',
    request: { input: 'https://example.com/a.png', options: { prompt: 'add a duck' } },
    requestHash: 'h',
    idempotencyKey: null,
    errors: [{ message: 'a hiccup', createdAt: new Date(at.getTime() - 1000) }],
    result: { inputObject: { width: 1 }, outputObjects: [{ tmpUrl: 'https://dl.example/x.png' }] },
    history: [
      { status: 'ACCEPTED', at: new Date(at.getTime() - 2000) },
      { status: 'DONE', at },
    ],
    createdAt: new Date(at.getTime() - 2000),
    updatedAt: at,
    lastPolledAt: at,
    finishedAt: at,
  };
}

describe('scale-out configuration', () => {
  it('leases live two poll intervals (at least 500 ms), keys share one prefix, rescans every 5 s', () => {
    const defaults = loadConfig({});
    expect(defaults.scaleOut).toEqual({
      keyPrefix: 'aiedit:',
      instanceId: undefined,
      leaseTtlMs: 2000,
      rescanIntervalMs: 5000,
    });
    expect(loadConfig({ POLL_INTERVAL_MS: '100' }).scaleOut.leaseTtlMs).toBe(500);
    expect(
      loadConfig({ POLL_LEASE_TTL_MS: '3000', INSTANCE_ID: 'gw-1', REDIS_KEY_PREFIX: 'prod:' }).scaleOut,
    ).toMatchObject({
      leaseTtlMs: 3000,
      instanceId: 'gw-1',
      keyPrefix: 'prod:',
    });
  });

  it('refuses a key prefix or instance id that could not be a plain Redis key part, naming the variable', () => {
    expect(() => loadConfig({ REDIS_KEY_PREFIX: 'a b*' })).toThrow(
      /^Invalid REDIS_KEY_PREFIX="a b\*": must be 1-64 of/,
    );
    expect(() => loadConfig({ INSTANCE_ID: 'x'.repeat(65) })).toThrow(/^Invalid INSTANCE_ID=/);
    expect(() => loadConfig({ POLL_LEASE_TTL_MS: '50' })).toThrow(
      /^Invalid POLL_LEASE_TTL_MS="50": must be at least 100/,
    );
  });
});

describe('the pub/sub serializer', () => {
  it('brings every Date back as a Date, wherever it sits, and leaves strings that look like dates alone', () => {
    const job = {
      ...sampleJob(),
      request: { input: '2026-01-02T03:04:05.678Z', options: { prompt: '{"$date":"x"}' } },
    };
    const back = dateRevivingSerializer.parse(dateRevivingSerializer.stringify(job)) as Job;
    expect(back).toEqual(job);
    expect(back.updatedAt).toBeInstanceOf(Date);
    expect(back.history[1]!.at).toBeInstanceOf(Date);
    expect(back.errors[0]!.createdAt).toBeInstanceOf(Date);
    expect(back.finishedAt?.getTime()).toBe(job.finishedAt!.getTime());
    expect(back.request.input).toBe('2026-01-02T03:04:05.678Z');
    expect(back.request.options.prompt).toBe('{"$date":"x"}');
  });
});

describe.skipIf(!testRedisUrl)('on Redis', () => {
  let redis: Redis;
  let prefix: string;
  const closers: (() => Promise<unknown> | void)[] = [];

  beforeAll(async () => {
    redis = await redisClient();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await dropKeys(redis, prefix);
  });
  afterAll(async () => {
    await redis.quit();
  });

  const coordinator = (instanceId: string, leaseTtlMs = 300) => {
    const c = new RedisPollCoordinator({
      redis,
      keyPrefix: prefix,
      leaseTtlMs,
      logger,
      instanceId,
      renewIntervalMs: 1_000_000,
    });
    closers.push(() => c.stop());
    return c;
  };

  describe('job leases', () => {
    it('one instance takes a lease, keeps it by renewing, and the other is told when to ask again', async () => {
      prefix = freshKeyPrefix();
      const a = coordinator('a');
      const b = coordinator('b');
      expect(await a.claim('job-1')).toEqual({ held: true });
      expect(await redis.get(`${prefix}lease:job:job-1`)).toBe('a');
      const refused = await b.claim('job-1');
      expect(refused.held).toBe(false);
      expect(!refused.held && refused.retryInMs).toBeGreaterThan(200);
      expect(!refused.held && refused.retryInMs).toBeLessThanOrEqual(300);

      // Renewed past its first lifetime, it stays a's.
      for (let i = 0; i < 4; i++) {
        await sleep(150);
        await a.renew();
      }
      expect(await redis.get(`${prefix}lease:job:job-1`)).toBe('a');
      expect((await b.claim('job-1')).held).toBe(false);
      expect(await a.claim('job-1')).toEqual({ held: true });
      expect(a.heldJobs()).toEqual(['job-1']);
    });

    it('another instance takes a lease its holder stopped renewing once it expires; the old holder learns it lost it', async () => {
      prefix = freshKeyPrefix();
      const a = coordinator('a');
      const b = coordinator('b');
      expect((await a.claim('job-1')).held).toBe(true);
      await sleep(350);
      expect(await b.claim('job-1')).toEqual({ held: true });
      expect(await redis.get(`${prefix}lease:job:job-1`)).toBe('b');
      await a.renew();
      expect(a.heldJobs()).toEqual([]);
      expect((await a.claim('job-1')).held).toBe(false);
    });

    it('a lease confirmed less than half its lifetime ago is held without asking Redis again', async () => {
      prefix = freshKeyPrefix();
      const a = coordinator('a', 600);
      const key = `${prefix}lease:job:job-1`;
      expect(await a.claim('job-1')).toEqual({ held: true });
      // Were the claim sent, it would take the vanished key again (SET NX): it is not, so the key stays gone.
      await redis.del(key);
      expect(await a.claim('job-1')).toEqual({ held: true });
      expect(await redis.exists(key)).toBe(0);
      // Past half the lifetime the claim goes to Redis, which hands the free key out again.
      await sleep(320);
      expect(await a.claim('job-1')).toEqual({ held: true });
      expect(await redis.get(key)).toBe('a');
      // A renewal confirms it as well; a release ends the confirmation at once.
      await sleep(320);
      await a.renew();
      await redis.del(key);
      expect(await a.claim('job-1')).toEqual({ held: true });
      expect(await redis.exists(key)).toBe(0);
      await a.release('job-1');
      await redis.set(key, 'b', 'PX', 600);
      expect((await a.claim('job-1')).held).toBe(false);
    });

    it("a renewal refreshes every one of the instance's watches", async () => {
      prefix = freshKeyPrefix();
      const a = coordinator('a', 600);
      const jobs = Array.from({ length: 7 }, (_, i) => `job-${i}`);
      for (const job of jobs) a.setWatched(job, true);
      await waitFor(
        async () => (await Promise.all(jobs.map((j) => redis.zscore(`${prefix}watch:${j}`, 'a')))).every(Boolean),
        1000,
        'the watches to be shared',
      );
      const before = await Promise.all(jobs.map((j) => redis.zscore(`${prefix}watch:${j}`, 'a')));
      await sleep(400);
      await a.renew();
      for (const [i, job] of jobs.entries()) {
        const key = `${prefix}watch:${job}`;
        expect(Number(await redis.zscore(key, 'a'))).toBeGreaterThanOrEqual(Number(before[i]) + 350);
        expect(await redis.pttl(key)).toBeGreaterThan(400);
      }
      // A withdrawn watch is not renewed.
      a.setWatched('job-0', false);
      await waitFor(async () => (await redis.exists(`${prefix}watch:job-0`)) === 0, 1000, 'the watch to go');
      await a.renew();
      expect(await redis.exists(`${prefix}watch:job-0`)).toBe(0);
    });

    it('releases only its own lease', async () => {
      prefix = freshKeyPrefix();
      const a = coordinator('a');
      const b = coordinator('b');
      expect((await a.claim('job-1')).held).toBe(true);
      await b.release('job-1');
      expect(await redis.get(`${prefix}lease:job:job-1`)).toBe('a');
      // Even when b wrongly believes it holds it (say it held it before a took over):
      await sleep(350);
      expect((await b.claim('job-1')).held).toBe(true);
      await redis.set(`${prefix}lease:job:job-1`, 'a', 'PX', 300);
      await b.release('job-1');
      expect(await redis.get(`${prefix}lease:job:job-1`)).toBe('a');
      await a.release('job-1');
      expect(await redis.exists(`${prefix}lease:job:job-1`)).toBe(0);
      expect((await b.claim('job-1')).held).toBe(true);
    });

    it('tells the holder when subscribers elsewhere watch its job, and when they stop', async () => {
      prefix = freshKeyPrefix();
      const holder = coordinator('holder');
      const other = coordinator('other');
      const changes: string[] = [];
      holder.onWatchChange((id) => changes.push(`${id}:${holder.isWatchedElsewhere(id)}`));
      expect((await holder.claim('job-1')).held).toBe(true);
      expect(holder.isWatchedElsewhere('job-1')).toBe(false);

      other.setWatched('job-1', true);
      await waitFor(async () => (await redis.zcard(`${prefix}watch:job-1`)) === 1, 1000, 'the watch to be shared');
      // Its own watch does not count as someone else's.
      holder.setWatched('job-1', true);
      await holder.renew();
      expect(holder.isWatchedElsewhere('job-1')).toBe(true);

      other.setWatched('job-1', false);
      await waitFor(
        async () => (await redis.zscore(`${prefix}watch:job-1`, 'other')) === null,
        1000,
        'the watch to be withdrawn',
      );
      await holder.renew();
      expect(holder.isWatchedElsewhere('job-1')).toBe(false);

      // A watcher whose instance died (stopped renewing) stops counting once its entry expires.
      other.setWatched('job-1', true);
      await waitFor(async () => (await redis.zscore(`${prefix}watch:job-1`, 'other')) !== null, 1000, 'the watch');
      await holder.renew();
      expect(holder.isWatchedElsewhere('job-1')).toBe(true);
      await sleep(350);
      await holder.claim('job-1');
      expect(holder.isWatchedElsewhere('job-1')).toBe(false);
      expect(changes).toEqual(['job-1:true', 'job-1:false', 'job-1:true', 'job-1:false']);
    });
  });

  describe('pub/sub', () => {
    it('a Job published on one connection arrives on another with its Dates', async () => {
      prefix = freshKeyPrefix();
      const [pub, subA, subB] = await Promise.all([redisClient(), redisClient(), redisClient()]);
      closers.push(() => Promise.all([pub.quit(), subA.quit(), subB.quit()]));
      const a = createJobPubSub(
        createPrefixedRedisEventTarget({ publishClient: pub, subscribeClient: subA, channelPrefix: prefix }),
      );
      const b = createJobPubSub(
        createPrefixedRedisEventTarget({ publishClient: pub, subscribeClient: subB, channelPrefix: prefix }),
      );
      const job = sampleJob();
      const received = a.subscribe('job:updated', job.id);
      const first = received.next();
      await waitFor(
        async () => ((await pub.pubsub('NUMSUB', `${prefix}job:updated:${job.id}`)) as [string, number])[1] === 1,
        2000,
        'the subscription',
      );
      b.publish('job:updated', job.id, job);
      const { value } = await first;
      await received.return?.();
      expect(value).toEqual(job);
      expect((value as Job).lastPolledAt).toBeInstanceOf(Date);
    });

    it('changes published in one tick reach another instance on every topic, in order; the publisher hears each once', async () => {
      prefix = freshKeyPrefix();
      const [pub, subA, subB] = await Promise.all([redisClient(), redisClient(), redisClient()]);
      closers.push(() => Promise.all([pub.quit(), subA.quit(), subB.quit()]));
      const target = (sub: Redis, instanceId: string) =>
        createJobPubSub(
          createPrefixedRedisEventTarget({
            publishClient: pub,
            subscribeClient: sub,
            channelPrefix: prefix,
            instanceId,
          }),
        );
      const a = target(subA, 'instance-a');
      const b = target(subB, 'instance-b');
      const jobs = [1, 2, 3].map((n) => ({ ...sampleJob(), id: `job-${n}`, updatedAt: new Date(1_000 * n) }));
      const heard: string[] = [];
      const follow = async (events: AsyncIterable<Job>, label: string, count: number) => {
        for await (const job of events) {
          heard.push(`${label} ${job.id} ${job.updatedAt.toISOString()}`);
          if (--count === 0) return;
        }
      };
      // B follows every job's topic and the owner's; A (the publisher) follows job-2's topic.
      const onB = [...jobs.map((job) => follow(b.subscribe('job:updated', job.id), 'job', 1))];
      onB.push(follow(b.subscribe('job:owner-updated', 'alice'), 'owner', 3));
      const onA = a.subscribe('job:updated', 'job-2');
      const aHeard: Job[] = [];
      void (async () => {
        for await (const job of onA) aHeard.push(job);
      })();
      await waitFor(
        async () => ((await pub.pubsub('NUMSUB', `${prefix}job:owner-updated:alice`)) as [string, number])[1] === 1,
        2000,
        'the subscriptions',
      );
      for (const job of jobs) publishJobUpdated(a, job);
      await Promise.all(onB);
      // A's own messages came back to it through Redis by now (B heard them after A's subscriber connection did not
      // necessarily; a PING on that connection is answered after whatever Redis sent it before).
      await subA.ping().catch(() => undefined);
      await sleep(50);
      await onA.return?.();
      expect(heard.filter((h) => h.startsWith('owner'))).toEqual(
        jobs.map((job) => `owner ${job.id} ${job.updatedAt.toISOString()}`),
      );
      expect(heard.filter((h) => h.startsWith('job')).sort()).toEqual(
        jobs.map((job) => `job ${job.id} ${job.updatedAt.toISOString()}`),
      );
      expect(aHeard.map((job) => job.id)).toEqual(['job-2']);
    });
  });

  describe('the shared upstream budget', () => {
    const budget = (perSecond: number) => {
      const b = new RateBudget({
        perSecond,
        perMinute: 6000,
        logger,
        grantWindows: redisGrantWindowsFactory(redis, prefix, logger),
        shared: new RedisBudgetGate(redis, prefix, logger),
        jitterMs: 0,
      });
      closers.push(() => b.close());
      return b;
    };

    it('three instances together grant at most perSecond in any one-second window', async () => {
      prefix = freshKeyPrefix();
      const budgets = [budget(5), budget(5), budget(5)];
      const grants: number[] = [];
      const started = Date.now();
      await Promise.all(
        budgets.flatMap((b) => Array.from({ length: 5 }, () => b.acquire('read').then(() => grants.push(Date.now())))),
      );
      grants.sort((x, y) => x - y);
      const maxInWindow = Math.max(...grants.map((t) => grants.filter((u) => u >= t && u < t + 1000).length));
      expect(maxInWindow).toBeLessThanOrEqual(5);
      // 15 grants at 5 per second cannot take much less than 2.8 s (the first one goes at once).
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_600);
    });

    it("one instance's 429 pauses every instance until the reset", async () => {
      prefix = freshKeyPrefix();
      const [a, b] = [budget(50), budget(50)];
      await b.acquire('read');
      a.observe({ httpStatus: 429, remaining: -1, resetSeconds: 1 });
      await waitFor(async () => (await redis.exists(`${prefix}budget:pause-until`)) === 1, 1000, 'the shared pause');
      const asked = Date.now();
      await b.acquire('read');
      expect(Date.now() - asked).toBeGreaterThanOrEqual(900);
    });
  });

  describe('two gateways in one process', () => {
    let up: TestUpstream;
    let dir: string;
    const gateways: Gateway[] = [];

    afterAll(async () => {
      for (const g of gateways) await g.stop();
      await up?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("a subscriber on A sees the changes B's poll reads, and B polls at A's watched cadence", async () => {
      prefix = freshKeyPrefix();
      up = await startTestUpstream();
      dir = mkdtempSync(join(tmpdir(), 'gateway-scale-'));
      const env = {
        CLAID_API_KEY: 'test-key',
        CLAID_API_URL: up.url,
        DATABASE_URL: `sqlite:${join(dir, 'jobs.db')}`,
        REDIS_URL: testRedisUrl!,
        REDIS_KEY_PREFIX: prefix,
        POLL_INTERVAL_MS: '100',
        BACKGROUND_POLL_INTERVAL_MS: '400',
        JOB_RESCAN_INTERVAL_MS: '200',
        MAX_SUBMITS_PER_MINUTE: '1000',
      };
      const a = await startTestGateway({ env: { ...env, INSTANCE_ID: 'gateway-a' } });
      gateways.push(a);
      const b = await startTestGateway({ env: { ...env, INSTANCE_ID: 'gateway-b' } });
      gateways.push(b);

      const submitted = await gql(b, SUBMIT, {
        input: { input: 'https://example.com/in.png', options: { prompt: 'add a duck' } },
      });
      expect(submitted.errors).toBeUndefined();
      const { id, upstreamId } = submitted.data!.submitAiEdit.job as { id: string; upstreamId: number };
      const jobId = Buffer.from(id, 'base64').toString('utf8').split(':')[1]!;

      // Nobody watches yet: one of them takes the lease at the background cadence (A found the job by rescanning).
      await waitFor(async () => (await redis.get(`${prefix}lease:job:${jobId}`)) !== null, 3000, 'a lease');
      const holderId = await redis.get(`${prefix}lease:job:${jobId}`);
      const [holder, other] = holderId === 'gateway-b' ? [b, a] : [a, b];
      // The read follows the claim.
      await waitFor(() => up.requests.some((r) => r.path === taskPath(upstreamId)), 3000, 'the first read');

      const client = wsClient(other);
      closers.push(() => client.dispose());
      const sub = collect(client, UPDATED, { id });
      await waitFor(() => sub.events.length >= 1, 3000, 'the first event');
      up.setTask(upstreamId, { status: 'PROCESSING' });
      await waitFor(
        () => sub.events.some((e) => e.data?.aiEditJobUpdated.status === 'PROCESSING'),
        3000,
        'PROCESSING on the other gateway',
      );
      // The holder reads at the watched cadence although its own process has no subscriber.
      const watchedFrom = Date.now();
      const readsAtWatch = up.requests.filter((r) => r.path === taskPath(upstreamId)).length;
      await sleep(1000);
      const readsInSecond = up.requests.filter((r) => r.path === taskPath(upstreamId)).length - readsAtWatch;
      expect(readsInSecond).toBeGreaterThanOrEqual(6);
      expect(readsInSecond).toBeLessThanOrEqual(Math.floor((Date.now() - watchedFrom) / 100) + 2);

      up.setTask(upstreamId, { status: 'DONE', result: claidResult(2) });
      const { events, error } = await sub.done;
      expect(error).toBeUndefined();
      const last = events.at(-1)!.data!.aiEditJobUpdated;
      expect(last.status).toBe('DONE');
      expect(last.result.outputObjects).toHaveLength(2);
      expect(new Date(last.updatedAt).getTime()).toBeGreaterThan(0);

      // Every read was the holder's: the gateway with the subscriber read nothing.
      expect(other.internals.poller.stats().readsByJob.get(jobId) ?? 0).toBe(0);
      expect(holder.internals.poller.stats().readsByJob.get(jobId)).toBe(
        up.requests.filter((r) => r.path === taskPath(upstreamId)).length,
      );
      // The lease is gone with the job.
      await waitFor(
        async () => (await redis.exists(`${prefix}lease:job:${jobId}`)) === 0,
        2000,
        'the lease to be released',
      );
    });
  });
});
