import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../src/simulator/server.js';
import { type GraphQLResponse, gql, UNLIMITED_SPEND_ENV } from './support/gateway.js';
import { type GatewayProcess, spawnGateway } from './support/gateway-process.js';
import { PostgresTestDatabase, testPostgresUrl } from './support/postgres.js';
import { useTestScratch } from './support/scratch.js';
import { simulatorTasks } from './support/simulator-tasks.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

// Issue 11, items 2 and 3: a gateway killed with SIGKILL in the middle of a burst of submits loses no job Claid
// took, and leaves no idempotency key stuck. The simulator keeps its tasks in a file, so the test can compare every
// task it holds with the jobs the restarted gateway serves. Its answers are held back by a proxy, so that at the
// kill several tasks exist upstream whose answer has not reached the gateway.

const BURST = 30;
const { cleanups, tempDir } = useTestScratch('kill-mid-submit-');

const SUBMIT = `mutation($input: SubmitAiEditInput!) {
  submitAiEdit(input: $input) { job { id upstreamId status request { options { prompt } } errors { code message } } }
}`;
const LIST = `query($after: String) { aiEditJobs(first: 40, after: $after) {
  pageInfo { hasNextPage endCursor }
  edges { node { id upstreamId status request { options { prompt } } errors { code message } } }
} }`;
const READ = 'query($id: ID!) { aiEditJob(id: $id) { id status upstreamId } }';

interface JobView {
  id: string;
  upstreamId: number | null;
  status: string;
  request: { options: { prompt: string } };
  errors: { code: string | null; message: string }[];
}

async function listJobs(gateway: { url: string }): Promise<JobView[]> {
  const jobs: JobView[] = [];
  let after: string | null = null;
  for (;;) {
    const res: GraphQLResponse = await gql(gateway, LIST, { after });
    expect(res.errors).toBeUndefined();
    const page = res.data!.aiEditJobs;
    jobs.push(...page.edges.map((e: { node: JobView }) => e.node));
    if (!page.pageInfo.hasNextPage) return jobs;
    after = page.pageInfo.endCursor;
  }
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

async function killMidBurst(databaseUrl: string): Promise<void> {
  const simDir = tempDir();
  const simulator: Simulator = await startSimulator({ dataDir: simDir, stepMs: 300 });
  cleanups.push(() => simulator.close());
  const proxy: TcpProxy = await startTcpProxy(
    { host: '127.0.0.1', port: Number(new URL(simulator.url).port) },
    { answerDelayMs: 600 },
  );
  cleanups.push(() => proxy.close());
  const env = {
    CLAID_API_URL: proxy.url(),
    CLAID_API_KEY: simulator.apiKey,
    DATABASE_URL: databaseUrl,
    ...UNLIMITED_SPEND_ENV,
    POLL_INTERVAL_MS: '200',
    // Unsettled submits are also ended every UPSTREAM_TIMEOUT_MS + 5 s, should one escape the sweep at start (a
    // PostgreSQL row still locked by the killed process's session is skipped then).
    UPSTREAM_TIMEOUT_MS: '2000',
  };
  const first: GatewayProcess = await spawnGateway(env, 60_000);
  cleanups.push(() => first.kill('SIGKILL'));

  const input = (i: number) => ({
    input: simulator.sampleUrl(),
    options: { prompt: `burst job ${i}` },
    idempotencyKey: `burst-key-${i}`,
  });
  const burst = Array.from({ length: BURST }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i * 25));
    return gql(first, SUBMIT, { input: input(i) }).catch(() => undefined);
  });
  // Kill once tasks exist upstream while their answers are still held back.
  await waitFor(() => simulator.stats.submits >= 10, 10_000);
  await first.kill('SIGKILL');
  await Promise.all(burst);

  const second = await spawnGateway(env, 60_000);
  cleanups.push(() => second.kill('SIGKILL'));
  let jobs = await listJobs(second);
  for (const deadline = Date.now() + 15_000; jobs.some((j) => j.status === 'QUEUED') && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 250));
    jobs = await listJobs(second);
  }
  const byPrompt = new Map(jobs.map((job) => [job.request.options.prompt, job]));
  for (const job of jobs) expect((await gql(second, READ, { id: job.id })).data?.aiEditJob?.id).toBe(job.id);
  const unknown = jobs.filter((job) => job.errors.some((e) => e.code === 'UPSTREAM_OUTCOME_UNKNOWN'));

  // Item 3: each key whose submit died belongs to its recorded job: a retry gets that job at once, sending nothing.
  const submitsBefore = simulator.stats.submits;
  for (const job of unknown) {
    const i = Number(job.request.options.prompt.replace('burst job ', ''));
    const started = Date.now();
    const retry = await gql(second, SUBMIT, { input: input(i) });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(retry.errors).toBeUndefined();
    expect(retry.data!.submitAiEdit.job).toMatchObject({ id: job.id, status: 'ERROR' });
  }
  expect(simulator.stats.submits).toBe(submitsBefore);

  // The simulator holds its file exclusively while it runs: read its tasks once it is closed.
  await second.kill('SIGKILL');
  await simulator.close();
  const tasks = simulatorTasks(simDir);
  expect(tasks.length).toBeGreaterThan(0);

  // Every task Claid holds has a job its caller could read: 0 tasks without a job.
  const orphans = tasks.filter((task) => !byPrompt.has(task.prompt));
  expect(orphans).toEqual([]);
  for (const task of tasks) {
    const job = byPrompt.get(task.prompt)!;
    if (job.upstreamId === null) {
      expect(job.status).toBe('ERROR');
      expect(job.errors.map((e) => e.code)).toEqual(['UPSTREAM_OUTCOME_UNKNOWN']);
    } else expect(job.upstreamId).toBe(task.id);
  }
  // Nothing is left in the gateway's pre-upstream state; what was caught there ended with a code that says so.
  expect(
    jobs.filter((job) => job.status === 'QUEUED'),
    second.output(),
  ).toEqual([]);
  expect(unknown.length).toBeGreaterThan(0); // the kill did land mid-submit
  for (const job of unknown) {
    expect(job.status).toBe('ERROR');
    expect(job.upstreamId).toBeNull();
    expect(job.errors[0]!.message).toMatch(/may have been charged/);
  }
}

describe('kill -9 in the middle of a burst of submits', () => {
  it('on a SQLite file: every upstream task has a job; unknown outcomes end UPSTREAM_OUTCOME_UNKNOWN', async () => {
    await killMidBurst(`sqlite:${join(tempDir(), 'gateway.db')}`);
  }, 90_000);

  const pg = testPostgresUrl ? new PostgresTestDatabase(testPostgresUrl) : undefined;
  afterAll(async () => pg?.end());
  it.skipIf(!pg)(
    'on PostgreSQL: the same',
    async () => {
      const schema = await pg!.createSchema();
      await killMidBurst(pg!.urlWithSearchPath(schema));
    },
    90_000,
  );
});
