import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../src/simulator/server.js';
import { gql } from './support/gateway.js';
import { type GatewayProcess, spawnGateway } from './support/gateway-process.js';
import { PostgresTestDatabase, testPostgresUrl } from './support/postgres.js';
import { useTestScratch } from './support/scratch.js';
import { simulatorTasks } from './support/simulator-tasks.js';

// Issue 13, part 3: jobs waiting in the submit queue survive a graceful restart and a kill -9, and each is sent at
// most once (exactly once unless it was caught mid-send by the kill), in submit order. The simulator keeps its
// tasks in a file and enforces the generation limit, so every submit Claid received can be counted and ordered.

const JOBS = 8;
const { cleanups, tempDir } = useTestScratch('submit-queue-restart-');

const SUBMIT = `mutation($input: SubmitAiEditInput!) { submitAiEdit(input: $input) { job { id status queuePosition } } }`;
const LIST = `{ aiEditJobs(first: 50) { edges { node {
  id upstreamId status queuePosition request { options { prompt } } errors { code }
} } } }`;

interface JobView {
  id: string;
  upstreamId: number | null;
  status: string;
  queuePosition: number | null;
  request: { options: { prompt: string } };
  errors: { code: string | null }[];
}

async function listJobs(gateway: { url: string }): Promise<JobView[]> {
  const res = await gql(gateway, LIST);
  expect(res.errors).toBeUndefined();
  return res.data!.aiEditJobs.edges.map((e: { node: JobView }) => e.node);
}

async function restartWithQueuedJobs(databaseUrl: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const simDir = tempDir();
  const simulator: Simulator = await startSimulator({
    dataDir: simDir,
    stepMs: 100,
    rateLimit: { perSecond: 4, perMinute: 120 },
    generationLimit: { perSecond: 1, perMinute: 60 },
  });
  cleanups.push(() => simulator.close());
  const env = {
    CLAID_API_URL: simulator.url,
    CLAID_API_KEY: simulator.apiKey,
    DATABASE_URL: databaseUrl,
    UPSTREAM_MAX_RPS: '4',
    UPSTREAM_MAX_RPM: '120',
    UPSTREAM_MAX_SUBMITS_PER_SECOND: '1',
    UPSTREAM_MAX_SUBMITS_PER_MINUTE: '60',
    POLL_INTERVAL_MS: '200',
    UPSTREAM_TIMEOUT_MS: '2000',
  };
  const first: GatewayProcess = await spawnGateway(env, 60_000);
  cleanups.push(() => first.kill('SIGKILL'));
  const prompts = Array.from({ length: JOBS }, (_, i) => `queued job ${i}`);
  const answers = [];
  for (const prompt of prompts) {
    answers.push(await gql(first, SUBMIT, { input: { input: simulator.sampleUrl(), options: { prompt } } }));
  }
  for (const res of answers) expect(res.errors).toBeUndefined();
  const statuses = answers.map((res) => res.data!.submitAiEdit.job.status);
  expect(statuses.filter((s) => s === 'QUEUED').length).toBeGreaterThanOrEqual(JOBS - 2);
  await first.kill(signal);
  const sentBeforeRestart = simulator.stats.submits;
  expect(sentBeforeRestart).toBeLessThan(JOBS);

  const second = await spawnGateway(env, 60_000);
  cleanups.push(() => second.kill('SIGKILL'));
  // The restarted gateway resumes the queue by itself.
  let jobs = await listJobs(second);
  for (const deadline = Date.now() + 30_000; jobs.some((j) => j.status === 'QUEUED') && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 250));
    jobs = await listJobs(second);
  }
  expect(jobs).toHaveLength(JOBS);
  expect(
    jobs.filter((j) => j.status === 'QUEUED'),
    second.output(),
  ).toEqual([]);
  await second.kill('SIGKILL');
  await simulator.close();

  // Claid took each job at most once, in submit order, and refused nothing. With REDIS_URL (as .ci/run sets it) the
  // restarted process shares the killed one's grant log. Without it, it starts its budgets afresh, but a start takes
  // longer than the upstream's second, a submit's generation is taken when its token is granted (never ahead of a
  // wait for it), and RateLimit-Remaining at 0 pauses it before the killed process's minute could run out.
  const tasks = simulatorTasks(simDir);
  expect(Object.fromEntries(simulator.stats.rateLimited)).toEqual({});
  expect(simulator.stats.submits - tasks.length).toBe(0);
  expect(tasks.map((t) => t.prompt)).toEqual(prompts.filter((p) => tasks.some((t) => t.prompt === p)));
  expect(new Set(tasks.map((t) => t.prompt)).size).toBe(tasks.length);
  const byPrompt = new Map(jobs.map((job) => [job.request.options.prompt, job]));
  const unknown = jobs.filter((job) => job.errors.some((e) => e.code === 'UPSTREAM_OUTCOME_UNKNOWN'));
  for (const prompt of prompts) {
    const job = byPrompt.get(prompt)!;
    const task = tasks.find((t) => t.prompt === prompt);
    if (unknown.includes(job)) {
      // Caught mid-send by the kill: ended, never sent again.
      expect(job.upstreamId).toBeNull();
    } else {
      expect(job.upstreamId, prompt).toBe(task?.id);
      expect(job.queuePosition).toBeNull();
    }
  }
  if (signal === 'SIGTERM') expect(unknown).toEqual([]);
  else expect(unknown.length).toBeLessThanOrEqual(1);
  expect(tasks.length).toBeGreaterThanOrEqual(JOBS - unknown.length);
}

describe('queued jobs across a restart', () => {
  it('survive a graceful restart on SQLite and are each sent once, in order', async () => {
    await restartWithQueuedJobs(`sqlite:${join(tempDir(), 'gateway.db')}`, 'SIGTERM');
  }, 150_000);

  it('survive a kill -9 on SQLite and are each sent at most once, in order', async () => {
    await restartWithQueuedJobs(`sqlite:${join(tempDir(), 'gateway.db')}`, 'SIGKILL');
  }, 150_000);

  const pg = testPostgresUrl ? new PostgresTestDatabase(testPostgresUrl) : undefined;
  afterAll(async () => {
    await pg?.dropSchemas();
    await pg?.end();
  });
  it.skipIf(!pg)(
    'survive a kill -9 on PostgreSQL the same way',
    async () => {
      const schema = await pg!.createSchema();
      await restartWithQueuedJobs(pg!.urlWithSearchPath(schema), 'SIGKILL');
    },
    150_000,
  );
});
