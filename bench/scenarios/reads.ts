import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, spawnChild } from '../lib/child.js';
import { closedLoop, gql, type LoadResult } from '../lib/http.js';
import { READ, SUBMIT, smallEdit } from '../lib/queries.js';
import { type Scenario, table } from '../lib/scenario.js';
import { GATEWAY_CORE, startGatewayChild, startSimulatorChild } from '../lib/stack.js';
import { median, round, sleep } from '../lib/stats.js';
import { pairedMetricsCost } from './reads-metrics.js';

// Read throughput: aiEditJob through the gateway in three modes, against two baselines answering the same query with
// the same bytes from memory (bare graphql-yoga, and node:http + graphql-js with cached parse/validate):
//   cached       a final job, answered from the read cache after the first read
//   uncached     a final job on a gateway with READ_CACHE_MAX_BYTES=0: the whole pipeline on every read
//   unfinished   a job the simulator keeps ACCEPTED, read well inside POLL_INTERVAL_MS: the whole pipeline, no
//                upstream call (what a frontend polling with pollInterval sends)
//   graphql-js   uncached and unfinished again with GRAPHQL_JIT=false: the interpreter instead of compiled execution
// A server variant is one more entry in SERVERS (its process) and TARGETS (what is read from it).

type JobKind = 'final' | 'unfinished';
type Job = Record<string, any> & { id: string };

interface ServerSpec {
  /** Starts the process: a gateway on its copy of the jobs' SQLite file, a baseline holding `jobs` in memory. */
  start(ctx: { simulatorUrl: string; databaseUrl: string; jobs: Job[]; verbose: boolean }): Promise<Child>;
  gateway: boolean;
}

/** A gateway whose reads of unfinished jobs never go upstream during the run, and whose background polls wait too. */
const QUIET_POLLS = { POLL_INTERVAL_MS: '3600000', BACKGROUND_POLL_INTERVAL_MS: '3600000' };

const BENCH_METRICS_TOKEN = 'bench-metrics-token-0123456789';

const SERVERS: Record<string, ServerSpec> = {
  gateway: {
    gateway: true,
    start: ({ simulatorUrl, databaseUrl, verbose }) =>
      startGatewayChild(simulatorUrl, { ...QUIET_POLLS, DATABASE_URL: databaseUrl }, verbose, 'gateway'),
  },
  'gateway-no-cache': {
    gateway: true,
    start: ({ simulatorUrl, databaseUrl, verbose }) =>
      startGatewayChild(
        simulatorUrl,
        { ...QUIET_POLLS, DATABASE_URL: databaseUrl, READ_CACHE_MAX_BYTES: '0' },
        verbose,
        'gateway-no-cache',
      ),
  },
  // The same pipeline on graphql-js's interpreter (GRAPHQL_JIT=false): what compiled execution changes.
  'gateway-no-cache-graphql-js': {
    gateway: true,
    start: ({ simulatorUrl, databaseUrl, verbose }) =>
      startGatewayChild(
        simulatorUrl,
        { ...QUIET_POLLS, DATABASE_URL: databaseUrl, READ_CACHE_MAX_BYTES: '0', GRAPHQL_JIT: 'false' },
        verbose,
        'gateway-no-cache-graphql-js',
      ),
  },
  // The cost of metrics (issue 14): the same two gateways with metrics on, measured in back-to-back pairs after the
  // targets (pairedMetricsCost), not among them.
  'gateway+metrics': {
    gateway: true,
    start: ({ simulatorUrl, databaseUrl, verbose }) =>
      startGatewayChild(
        simulatorUrl,
        { ...QUIET_POLLS, DATABASE_URL: databaseUrl, METRICS_TOKEN: BENCH_METRICS_TOKEN },
        verbose,
        'gateway+metrics',
      ),
  },
  'gateway-no-cache+metrics': {
    gateway: true,
    start: ({ simulatorUrl, databaseUrl, verbose }) =>
      startGatewayChild(
        simulatorUrl,
        { ...QUIET_POLLS, DATABASE_URL: databaseUrl, READ_CACHE_MAX_BYTES: '0', METRICS_TOKEN: BENCH_METRICS_TOKEN },
        verbose,
        'gateway-no-cache+metrics',
      ),
  },
  'bare-yoga': {
    gateway: false,
    start: ({ jobs, verbose }) => spawnChild('bare-yoga', 'yoga', { core: GATEWAY_CORE, args: { jobs }, verbose }),
  },
  'raw-graphql-js': {
    gateway: false,
    start: ({ jobs, verbose }) => spawnChild('raw', 'raw', { core: GATEWAY_CORE, args: { jobs }, verbose }),
  },
};

interface Target {
  name: string;
  server: keyof typeof SERVERS;
  job: JobKind;
  /**
   * The body sent chunked: the gateway then answers through Yoga's own HTTP handling instead of the direct JSON lane
   * (which takes only bodies with a Content-Length), so the lane is measured against Yoga inside the same process.
   */
  chunked?: boolean;
  /** The target whose throughput this one is judged against (and its goal), if any. */
  against?: { target: string; goal: number };
}

const TARGETS: Target[] = [
  {
    name: 'gateway cached (final)',
    server: 'gateway',
    job: 'final',
    against: { target: 'bare-yoga (final)', goal: 8 },
  },
  {
    name: 'gateway uncached (final)',
    server: 'gateway-no-cache',
    job: 'final',
    against: { target: 'bare-yoga (final)', goal: 1.5 },
  },
  {
    name: 'gateway unfinished',
    server: 'gateway-no-cache',
    job: 'unfinished',
    against: { target: 'bare-yoga (unfinished)', goal: 1.5 },
  },
  {
    name: 'gateway uncached (final), graphql-js',
    server: 'gateway-no-cache-graphql-js',
    job: 'final',
    against: { target: 'bare-yoga (final)', goal: 1.5 },
  },
  {
    name: 'gateway unfinished, graphql-js',
    server: 'gateway-no-cache-graphql-js',
    job: 'unfinished',
    against: { target: 'bare-yoga (unfinished)', goal: 1.5 },
  },
  {
    name: 'gateway unfinished, through Yoga (chunked)',
    server: 'gateway-no-cache',
    job: 'unfinished',
    chunked: true,
    against: { target: 'bare-yoga (unfinished)', goal: 1.5 },
  },
  { name: 'bare-yoga (final)', server: 'bare-yoga', job: 'final' },
  { name: 'bare-yoga (unfinished)', server: 'bare-yoga', job: 'unfinished' },
  { name: 'raw-graphql-js (final)', server: 'raw-graphql-js', job: 'final' },
  { name: 'raw-graphql-js (unfinished)', server: 'raw-graphql-js', job: 'unfinished' },
];

/** The load generator above this share of its core may be what limits the figure, not the server. */
const CLIENT_SATURATED = 0.9;

/** Steps far longer than the run: a job submitted now stays ACCEPTED upstream. */
const FROZEN_STEP_MS = 24 * 3_600_000;

async function finalJob(url: string, sampleUrl: string): Promise<Job> {
  const submitted = await gql(url, SUBMIT, { input: smallEdit(sampleUrl, 0) });
  const id = submitted.submitAiEdit.job.id as string;
  for (let i = 0; i < 200; i++) {
    const job = (await gql(url, READ, { id })).aiEditJob as Job | null;
    if (job?.isFinal) {
      if (job.status !== 'DONE') throw new Error(`job did not finish DONE: ${JSON.stringify(job)}`);
      return job;
    }
    await sleep(100);
  }
  throw new Error(`job ${id} did not finish`);
}

async function unfinishedJob(url: string, sampleUrl: string): Promise<Job> {
  const submitted = await gql(url, SUBMIT, { input: smallEdit(sampleUrl, 1) });
  const job = (await gql(url, READ, { id: submitted.submitAiEdit.job.id })).aiEditJob as Job | null;
  if (!job || job.isFinal) throw new Error(`expected an unfinished job: ${JSON.stringify(job)}`);
  return job;
}

export const reads: Scenario = async ({ quick, verbose, log }) => {
  const concurrency = 32;
  const rounds = quick ? 1 : 3;
  const durationMs = quick ? 3_000 : 8_000;
  const warmupMs = quick ? 1_000 : 2_000;

  const sim = await startSimulatorChild({ stepMs: 0 }, verbose);
  const children: Child[] = [sim];
  const dbDir = mkdtempSync(join(tmpdir(), 'bench-reads-'));
  try {
    // A first gateway (reads refresh as usual) makes the jobs on a SQLite file: a final one (the simulator finishes at
    // once), then, with the simulator frozen, an unfinished one. The measured gateways open copies of that file with
    // polls an hour apart, so that no read of the unfinished job is ever due upstream.
    const maker = await startGatewayChild(sim.info.url, { DATABASE_URL: `sqlite:${join(dbDir, 'jobs.db')}` }, verbose);
    let made: Record<JobKind, Job>;
    try {
      const final = await finalJob(maker.info.url, sim.info.sampleUrl);
      await sim.rpc('setStepMs', FROZEN_STEP_MS);
      made = { final, unfinished: await unfinishedJob(maker.info.url, sim.info.sampleUrl) };
    } finally {
      await maker.stop();
    }
    const servers: Record<string, Child> = {};
    for (const [name, spec] of Object.entries(SERVERS)) {
      const file = join(dbDir, `${name}.db`);
      if (spec.gateway) copyFileSync(join(dbDir, 'jobs.db'), file);
      servers[name] = await spec.start({
        simulatorUrl: sim.info.url,
        databaseUrl: `sqlite:${file}`,
        jobs: [made.final, made.unfinished],
        verbose,
      });
      children.push(servers[name]);
    }

    const plans = TARGETS.map((target) => {
      const job = made[target.job];
      const expected = JSON.stringify(job);
      const validate = (text: string) => {
        const body = JSON.parse(text) as { data?: { aiEditJob?: unknown }; errors?: unknown[] };
        if (body.errors?.length || !body.data) throw new Error(`error response: ${text.slice(0, 300)}`);
        if (JSON.stringify(body.data.aiEditJob) !== expected) throw new Error(`unexpected job: ${text.slice(0, 300)}`);
      };
      const url = servers[target.server]!.info.url as string;
      const body = JSON.stringify({ query: READ, variables: { id: job.id }, operationName: 'Read' });
      return { target, url, body, validate, bytes: Buffer.byteLength(expected), id: job.id };
    });
    // Every server must give the same answer before it is timed.
    for (const plan of plans) plan.validate(JSON.stringify({ data: await gql(plan.url, READ, { id: plan.id }) }));

    const readsBefore = (await sim.rpc<{ reads: number }>('stats')).reads;
    const runs: Record<string, (LoadResult & { serverCpuUsPerRequest: number })[]> = Object.fromEntries(
      TARGETS.map((t) => [t.name, []]),
    );
    for (let r = 0; r < rounds; r++) {
      for (const plan of plans) {
        const { name } = plan.target;
        const server = servers[plan.target.server]!;
        const cpuBefore = await server.rpc<{ user: number; system: number }>('cpu');
        const result = await closedLoop({
          url: `${plan.url}/graphql`,
          body: plan.body,
          validate: plan.validate,
          concurrency,
          durationMs,
          warmupMs,
          chunked: plan.target.chunked ?? false,
        });
        const cpuAfter = await server.rpc<{ user: number; system: number }>('cpu');
        // Includes the warm-up and the drain: CPU per answered request over the whole loop.
        const cpuUs = cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system;
        const serverCpuUsPerRequest = cpuUs / result.total;
        log(
          `round ${r + 1} ${name}: ${Math.round(serverCpuUsPerRequest)} µs server CPU per request, ${Math.round(result.rps)} req/s, p50 ${round(result.latencyMs.p50)} ms, p99 ${round(result.latencyMs.p99)} ms, ${result.failed} failed, load generator cpu ${round(result.clientCpu)}`,
        );
        if (result.failed > 0)
          throw new Error(`${name}: ${result.failed} failed responses, first: ${result.firstFailure}`);
        runs[name]!.push({ ...result, serverCpuUsPerRequest });
      }
    }
    // The unfinished reads are meant to be stored reads: none may have cost an upstream call.
    const upstreamReads = (await sim.rpc<{ reads: number }>('stats')).reads - readsBefore;
    if (upstreamReads > 0) throw new Error(`${upstreamReads} upstream reads during the timed rounds`);
    const finalPlan = plans.find((p) => p.target.server === 'gateway' && p.target.job === 'final')!;
    const pairs = quick ? 2 : 8;
    const load = { body: finalPlan.body, validate: finalPlan.validate, concurrency };
    const variant = (name: string) => ({ url: servers[name]!.info.url as string, child: servers[name]! });
    const metricsCost = {
      cached: await pairedMetricsCost(
        { label: 'cached', off: variant('gateway'), on: variant('gateway+metrics') },
        load,
        pairs,
      ),
      uncached: await pairedMetricsCost(
        { label: 'uncached', off: variant('gateway-no-cache'), on: variant('gateway-no-cache+metrics') },
        load,
        pairs,
      ),
    };
    log(`metrics cost: ${JSON.stringify(metricsCost)}`);
    // The metrics must really have counted what was served (a cache hit is answered before the envelop: uncached).
    const counted = await countedReads(servers['gateway-no-cache+metrics']!.info.url as string);
    if (counted < pairs) throw new Error(`metrics counted ${counted} reads only`);
    const summary = Object.fromEntries(
      plans.map(({ target, bytes }) => {
        const rs = runs[target.name]!;
        const clientCpu = round(median(rs.map((x) => x.clientCpu)));
        return [
          target.name,
          {
            server: target.server,
            job: target.job,
            jobJsonBytes: bytes,
            rps: round(median(rs.map((x) => x.rps)), 0),
            serverCpuUsPerRequest: round(median(rs.map((x) => x.serverCpuUsPerRequest)), 0),
            p50Ms: round(median(rs.map((x) => x.latencyMs.p50))),
            p99Ms: round(median(rs.map((x) => x.latencyMs.p99))),
            ok: rs.reduce((s, x) => s + x.ok, 0),
            failed: rs.reduce((s, x) => s + x.failed, 0),
            clientCpu,
            clientSaturated: clientCpu > CLIENT_SATURATED,
          },
        ];
      }),
    ) as Record<
      string,
      {
        server: string;
        job: JobKind;
        jobJsonBytes: number;
        rps: number;
        serverCpuUsPerRequest: number;
        p50Ms: number;
        p99Ms: number;
        ok: number;
        failed: number;
        clientCpu: number;
        clientSaturated: boolean;
      }
    >;
    const ratios = Object.fromEntries(
      TARGETS.filter((t) => t.against).map((t) => {
        const ratio = summary[t.name]!.rps / summary[t.against!.target]!.rps;
        const cpuRatio = summary[t.against!.target]!.serverCpuUsPerRequest / summary[t.name]!.serverCpuUsPerRequest;
        return [
          t.name,
          { against: t.against!.target, ratio: round(ratio, 3), cpuRatio: round(cpuRatio, 3), goal: t.against!.goal },
        ];
      }),
    );
    const rawOf = (t: Target) => summary[`raw-graphql-js (${t.job})`]?.rps;
    const markdown = [
      `aiEditJob(id) with every field, closed loop, ${concurrency} keep-alive connections with one request in flight each (raw sockets, bench/lib/raw-http-client.ts), ` +
        `${rounds} round(s) of ${durationMs / 1000} s after ${warmupMs / 1000} s warm-up per target, targets interleaved, ` +
        'medians over rounds; every body checked. "unfinished" is an ACCEPTED job read inside POLL_INTERVAL_MS ' +
        '(stored, no upstream call). Load generator CPU is the share of its core it used; above ' +
        `${CLIENT_SATURATED * 100} % the figure is the load generator's ceiling, not the server's. Server CPU per request ` +
        '(process.cpuUsage of the server over the loop, warm-up included, / requests answered) is the steadier figure ' +
        'on a shared machine: "by CPU per request" is the baseline\'s CPU per request over the target\'s.',
      '',
      `Upstream reads during the timed rounds: ${upstreamReads}.`,
      '',
      table(
        [
          'target',
          'job JSON B',
          'req/s',
          'server CPU µs/req',
          'p50 ms',
          'p99 ms',
          'ok responses',
          'load generator CPU',
          'vs baseline',
        ],
        plans.map(({ target }) => {
          const s = summary[target.name]!;
          const ratio = ratios[target.name];
          const raw = rawOf(target);
          const vs = ratio
            ? `${round(ratio.ratio)}× ${ratio.against} (goal ≥ ${ratio.goal}×), by CPU per request ${round(ratio.cpuRatio)}×${raw ? `; ${round(s.rps / raw)}× raw` : ''}`
            : '';
          return [
            target.name,
            s.jobJsonBytes,
            s.rps,
            s.serverCpuUsPerRequest,
            s.p50Ms,
            s.p99Ms,
            s.ok,
            `${Math.round(s.clientCpu * 100)} %${s.clientSaturated ? ' **saturated: a floor, not the ceiling**' : ''}`,
            vs,
          ];
        }),
      ),
      '',
      `Cost of metrics (READ_CACHE_MAX_BYTES=0 for uncached), as gateway CPU per read with / without − 1, median of ` +
        `${pairs} back-to-back pairs of 2 s runs on the final job: cached **${round(metricsCost.cached.cpuCost * 100, 1)} %** ` +
        `(${metricsCost.cached.cpuUsPerReadOn} vs ${metricsCost.cached.cpuUsPerReadOff} µs), uncached ` +
        `**${round(metricsCost.uncached.cpuCost * 100, 1)} %** (${metricsCost.uncached.cpuUsPerReadOn} vs ` +
        `${metricsCost.uncached.cpuUsPerReadOff} µs); in req/s ${round(metricsCost.cached.rpsCost * 100, 1)} % and ` +
        `${round(metricsCost.uncached.rpsCost * 100, 1)} %. Target ≤ 5 %.`,
    ].join('\n');
    return {
      result: {
        metricsCost,
        upstreamReads,
        concurrency,
        rounds,
        durationMs,
        warmupMs,
        clientSaturatedAbove: CLIENT_SATURATED,
        summary,
        ratios,
        runs,
      },
      markdown,
    };
  } finally {
    for (const child of children.reverse()) await child.stop();
    rmSync(dbDir, { recursive: true, force: true });
  }
};

/** The Read operations a metrics variant counted as ok, from its /metrics. */
async function countedReads(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` } });
  const text = await res.text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('graphql_operations_total{operationName="Read",') && l.includes('outcome="ok"'));
  return Number(line?.split(' ').at(-1) ?? 0);
}
