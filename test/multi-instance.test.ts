import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobStore } from '../src/services/store/job-store.js';
import { createJobStore } from '../src/services/store/job-store-factory.js';
import { gql, READ, SUBMIT } from './support/gateway.js';
import { startGatewayChild } from './support/gateway-process.js';
import { sleep, waitFor } from './support/poller-harness.js';
import { freshSchemaName, testPostgresUrl } from './support/postgres.js';
import { dropKeys, freshKeyPrefix, redisClient, testRedisUrl } from './support/redis.js';
import { collect, UPDATED, wsClient } from './support/subscriptions.js';
import { claidResult, startTestUpstream, type TestUpstream, taskPath } from './support/test-upstream.js';

// Three gateway processes behind no balancer at all (each client picks one), sharing one Redis and one database
// (PostgreSQL when TEST_POSTGRES_URL is set, else one SQLite file), in front of a test upstream that counts reads.

const INTERVAL_MS = 1000;
const MAX_RPS = 5;
/** A task reports PROCESSING until this long after it was created, then DONE. */
const DONE_AFTER_MS = 10_000;
const JOBS_PER_GATEWAY = 5;
const SUBSCRIBERS = 300;

interface Instance {
  child: ChildProcessWithoutNullStreams;
  url: string;
  instanceId: string;
  output: string[];
  killed: boolean;
}

const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startInstance(env: Record<string, string>, name: string): Promise<Instance> {
  const { child, url, output } = await startGatewayChild(name, env, cleanups);
  const instance: Instance = { child, url, instanceId: '', output, killed: false };
  const ready = (await (await fetch(`${instance.url}/ready`)).json()) as {
    instanceId: string;
    checks: Record<string, string>;
  };
  expect(ready.checks.redis).toBe('ok');
  instance.instanceId = ready.instanceId;
  return instance;
}

/** The shared database: a fresh PostgreSQL schema, else a SQLite file in a fresh directory. */
async function sharedDatabase(): Promise<string> {
  if (testPostgresUrl) {
    const schema = freshSchemaName();
    const admin = new pg.Pool({ connectionString: testPostgresUrl, max: 1 });
    await admin.query(`CREATE SCHEMA ${schema}`);
    cleanups.push(async () => {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    });
    const url = new URL(testPostgresUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return url.toString();
  }
  const dir = mkdtempSync(join(tmpdir(), 'gateway-multi-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return `sqlite:${join(dir, 'jobs.db')}`;
}

/** The fake Claid, but a task is PROCESSING from its creation until DONE_AFTER_MS later, then DONE. */
function timedTasks(up: TestUpstream): void {
  up.setDefault((request) => {
    const match = /^\/v1\/image\/ai-edit\/(\d+)$/.exec(request.path);
    const task = match && request.method === 'GET' ? up.tasks.get(Number(match[1])) : undefined;
    if (task && task.status !== 'DONE') {
      const age = Date.now() - new Date(task.created_at).getTime();
      if (age >= DONE_AFTER_MS) up.setTask(task.id, { status: 'DONE', result: claidResult() });
      else up.setTask(task.id, { status: 'PROCESSING' });
    }
    return up.fakeClaid(request);
  });
}

/** The most requests that arrived within any one second. */
function maxPerSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= 1000) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

/** Which instance read `path` upstream when, from the `claid call` lines each process logged, oldest first. */
function readersOf(instances: Instance[], path: string): { at: number; instanceId: string }[] {
  const reads: { at: number; instanceId: string }[] = [];
  for (const instance of instances) {
    for (const line of instance.output.join('').split('\n')) {
      if (!line.includes('"claid call')) continue;
      try {
        const entry = JSON.parse(line) as { time: number; method?: string; path?: string };
        if (entry.method === 'GET' && entry.path === path)
          reads.push({ at: entry.time, instanceId: instance.instanceId });
      } catch {
        // A line cut short by kill -9.
      }
    }
  }
  return reads.sort((a, b) => a.at - b.at);
}

const jobIdOf = (globalId: string): string => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

describe.skipIf(!testRedisUrl)('three gateway processes on one Redis and one database', () => {
  it('share polling, pub/sub and the budget; when the lease holder is killed, the others finish its jobs', async () => {
    const prefix = freshKeyPrefix();
    const redis: Redis = await redisClient();
    cleanups.push(async () => {
      await dropKeys(redis, prefix);
      await redis.quit();
    });
    const up = await startTestUpstream();
    cleanups.push(() => up.close());
    timedTasks(up);
    const databaseUrl = await sharedDatabase();

    const env = {
      CLAID_API_KEY: 'test-key',
      CLAID_API_URL: up.url,
      DATABASE_URL: databaseUrl,
      REDIS_URL: testRedisUrl!,
      REDIS_KEY_PREFIX: prefix,
      POLL_INTERVAL_MS: String(INTERVAL_MS),
      BACKGROUND_POLL_INTERVAL_MS: '6000',
      JOB_RESCAN_INTERVAL_MS: '1000',
      UPSTREAM_MAX_RPS: String(MAX_RPS),
      UPSTREAM_MAX_RPM: '300',
      // This suite is about the request budget: the generation limit is lifted to it.
      UPSTREAM_MAX_SUBMITS_PER_SECOND: String(MAX_RPS),
      UPSTREAM_MAX_SUBMITS_PER_MINUTE: '300',
      LOG_LEVEL: 'info',
      MAX_SUBMITS_PER_MINUTE: '1000',
      MAX_UNFINISHED_JOBS: '1000',
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '1000',
      MAX_SUBSCRIPTIONS_PER_CALLER: '10000',
    };
    // The first instance migrates the database alone; the other two start together.
    const first = await startInstance(env, 'gw-0');
    const instances = [first, ...(await Promise.all([startInstance(env, 'gw-1'), startInstance(env, 'gw-2')]))];
    expect(new Set(instances.map((i) => i.instanceId)).size).toBe(3);

    const submit = (instance: Instance, n: number) =>
      gql(instance, SUBMIT, {
        input: { input: 'https://example.com/in.png', options: { prompt: `edit ${instance.instanceId} ${n}` } },
      });
    // One submit on each instance in turn (its first upstream call, which a cold process sends a little late),
    // then a burst: four more on each at once. Together they may not go faster than the shared budget.
    const submittedAt = Date.now();
    const firsts = [];
    for (const instance of instances) firsts.push(await submit(instance, 0));
    const burst = await Promise.all(
      instances.flatMap((instance) => Array.from({ length: JOBS_PER_GATEWAY - 1 }, (_, n) => submit(instance, n + 1))),
    );
    const submits = [...firsts, ...burst];
    for (const res of submits) expect(res.errors).toBeUndefined();
    const jobs = submits.map((res) => res.data!.submitAiEdit.job as { id: string; upstreamId: number | null });
    // One watched job from each instance; the other twelve are polled in the background. A submit the budget could
    // not send at once is returned QUEUED, without a task yet: wait until the submit queue has sent it.
    const withTask = async (job: { id: string; upstreamId: number | null }) => {
      let upstreamId = job.upstreamId;
      await waitFor(
        async () => {
          upstreamId ??= (await gql(first, READ, { id: job.id })).data?.aiEditJob?.upstreamId ?? null;
          return upstreamId !== null;
        },
        15_000,
        `job ${job.id} to be sent`,
      );
      return { id: job.id, upstreamId: upstreamId! };
    };
    const watched = await Promise.all(jobs.slice(0, 3).map(withTask));

    // 300 subscribers, spread over the three instances and the three watched jobs.
    const clients: Client[][] = instances.map((instance) => Array.from({ length: 4 }, () => wsClient(instance)));
    cleanups.push(() => Promise.all(clients.flat().map((c) => c.dispose())));
    const subs = Array.from({ length: SUBSCRIBERS }, (_, i) => {
      const on = i % 3;
      const job = watched[Math.floor(i / 3) % 3]!;
      return { on, job, ...collect(clients[on]![i % 4]!, UPDATED, { id: job.id }) };
    });
    await waitFor(() => subs.every((s) => s.events.length >= 1), 15_000, 'every subscriber to get the current state');

    // Every submit has reached Claid and been recorded before the kill, so that the kill hits polling, which this
    // test is about (a submit cut by kill -9 ends UPSTREAM_OUTCOME_UNKNOWN: kill-mid-submit and submit-queue-restart).
    await Promise.all(jobs.map(withTask));

    // Kill -9 whoever holds the first watched job's lease, while that job is still PROCESSING.
    const victimJob = jobIdOf(watched[0]!.id);
    await waitFor(async () => (await redis.get(`${prefix}lease:job:${victimJob}`)) !== null, 5_000, 'the lease');
    const holderId = await redis.get(`${prefix}lease:job:${victimJob}`);
    const victim = instances.find((i) => i.instanceId === holderId);
    expect(victim, `lease held by ${holderId}`).toBeDefined();
    const { created_at: createdAt } = up.tasks.get(watched[0]!.upstreamId)!;
    const wait = new Date(createdAt).getTime() + DONE_AFTER_MS / 2 - Date.now();
    if (wait > 0) await sleep(wait);
    expect(
      subs.filter((s) => s.job === watched[0]).every((s) => s.events.at(-1)!.data!.aiEditJobUpdated.status !== 'DONE'),
    ).toBe(true);
    victim!.child.kill('SIGKILL');
    victim!.killed = true;
    await once(victim!.child, 'exit');

    // Every subscriber on a surviving instance sees DONE, with the result.
    const survivors = instances.filter((i) => !i.killed);
    const surviving = subs.filter((s) => !instances[s.on]!.killed);
    expect(surviving.length).toBe(200);
    const results = await Promise.all(surviving.map((s) => s.done));
    const doneAt = Date.now();
    for (const { events, error } of results) {
      expect(error).toBeUndefined();
      const last = events.at(-1)!.data!.aiEditJobUpdated;
      expect(last.status).toBe('DONE');
      expect(last.result.outputObjects).toHaveLength(1);
    }
    // The victim's lease went to a survivor.
    const newHolder = await redis.get(`${prefix}lease:job:${victimJob}`);
    expect(newHolder === null || survivors.some((i) => i.instanceId === newHolder)).toBe(true);

    // One poll loop per job across all three: reads of a watched job stay within elapsed / interval + 2.
    for (const job of watched) {
      const reads = up.requests.filter((r) => r.method === 'GET' && r.path === taskPath(job.upstreamId)).length;
      expect(reads).toBeGreaterThan(0);
      expect(reads, `reads of task ${job.upstreamId}`).toBeLessThanOrEqual(
        Math.floor((doneAt - submittedAt) / INTERVAL_MS) + 2,
      );
    }

    // Each job is read by one instance at a time: its readers change only when a holder died (once at most here).
    // Without leases the three would take turns. The readers come from the instances' log lines, which may reach
    // this process after the events those reads caused: wait until the logs account for every read the upstream saw.
    const readsAtUpstream = (job: { upstreamId: number }) =>
      up.requests.filter((r) => r.method === 'GET' && r.path === taskPath(job.upstreamId)).length;
    await waitFor(
      () => watched.every((job) => readersOf(instances, taskPath(job.upstreamId)).length >= readsAtUpstream(job)),
      3_000,
      'the log lines of every read',
    ).catch(() => {});
    for (const job of watched) {
      const readers = readersOf(instances, taskPath(job.upstreamId)).map((r) => r.instanceId);
      const switches = readers.filter((id, i) => i > 0 && id !== readers[i - 1]).length;
      // Enough reads to judge who read: while the burst goes out, a read gets a token only when no generation is free
      // for a submit, so a watched job may be read only three times in its ten seconds.
      expect(
        readers.length,
        `readers of task ${job.upstreamId}: ${readers.join(' ')}; upstream saw ${readsAtUpstream(job)}`,
      ).toBeGreaterThanOrEqual(3);
      expect(switches, `readers of task ${job.upstreamId}: ${readers.join(' ')}`).toBeLessThanOrEqual(1);
      if (switches === 1) expect(readers[0]).toBe(victim!.instanceId);
    }

    // No job is lost: every one of the fifteen, the victim's background jobs included, ends DONE in the store.
    const store: JobStore = await createJobStore(databaseUrl);
    cleanups.push(() => store.close());
    const ids = jobs.map((j) => jobIdOf(j.id));
    await waitFor(
      async () => (await store.findByIds(ids)).every((job) => job?.status === 'DONE'),
      25_000,
      'every job to be DONE in the store',
    ).catch(async (error: Error) => {
      const statuses = (await store.findByIds(ids)).map((j) => j?.status);
      throw new Error(
        `${error.message}: ${JSON.stringify(statuses)}\n${survivors
          .map((s) => s.output.join(''))
          .join('\n')
          .slice(-4000)}`,
      );
    });

    // The budget held across all three: the upstream saw at most UPSTREAM_MAX_RPS requests in any one second, give
    // or take one (a sliding second: the grant log's second is 100 ms wider, and a token held longer than that before
    // its request leaves, as in a slow claim, is not used; but a process the loaded machine stops between a grant and
    // its request sends it late, next to the following one: the grants' own windows are checked exactly in
    // grant-log-redis.test.ts). Unshared budgets would show three times the limit.
    const arrivals = up.requests.map((r) => r.at - submittedAt);
    expect(maxPerSecond(arrivals), `arrivals (ms): ${arrivals.join(' ')}`).toBeLessThanOrEqual(MAX_RPS + 1);
    // And the burst of twelve submits was spread over more than two seconds, not granted five per instance at once.
    const posts = up
      .requestsTo('POST')
      .slice(3)
      .map((r) => r.at);
    expect(Math.max(...posts) - Math.min(...posts)).toBeGreaterThanOrEqual((12 / MAX_RPS - 1) * 1000 - 100);
  }, 60_000);
});
