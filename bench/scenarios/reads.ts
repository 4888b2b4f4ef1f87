import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, spawnChild } from '../lib/child.js';
import { closedLoop, gql, type LoadResult } from '../lib/http.js';
import { READ, SUBMIT, smallEdit } from '../lib/queries.js';
import { type Scenario, table } from '../lib/scenario.js';
import { GATEWAY_CORE, startGatewayChild, startSimulatorChild } from '../lib/stack.js';
import { median, round, sleep } from '../lib/stats.js';
import { pairedMetricsCost } from './reads-metrics.js';

// Read throughput: aiEditJob on a stored, final job through the gateway, against two baselines answering the same
// query with the same bytes from memory: bare graphql-yoga, and node:http + graphql-js with cached parse/validate.

// The cost of metrics (issue 14): more gateways on the same store, with metrics on and off, the read cache on and off
// (READ_CACHE_MAX_BYTES=0), timed in the same rounds as the rest. `gateway` is the cached one without metrics.
const BENCH_METRICS_TOKEN = 'bench-metrics-token-0123456789';
const METRICS_VARIANTS = {
  'gateway+metrics': { METRICS_TOKEN: BENCH_METRICS_TOKEN },
  'gateway-uncached': { READ_CACHE_MAX_BYTES: '0' },
  'gateway-uncached+metrics': { READ_CACHE_MAX_BYTES: '0', METRICS_TOKEN: BENCH_METRICS_TOKEN },
} as const;
type MetricsVariant = keyof typeof METRICS_VARIANTS;

const SERVERS = [
  'gateway',
  ...(Object.keys(METRICS_VARIANTS) as MetricsVariant[]),
  'bare-yoga',
  'raw-graphql-js',
] as const;
type ServerName = (typeof SERVERS)[number];

export const reads: Scenario = async ({ quick, verbose, log }) => {
  const concurrency = 32;
  const rounds = quick ? 1 : 3;
  const durationMs = quick ? 3_000 : 8_000;
  const warmupMs = quick ? 1_000 : 2_000;

  const sim = await startSimulatorChild({ stepMs: 0 }, verbose);
  // A file, not memory, so that the metrics variants read the same stored job.
  const dbFile = join(tmpdir(), `bench-reads-${process.pid}.db`);
  const store = { DATABASE_URL: `sqlite:${dbFile}` };
  const gateway = await startGatewayChild(sim.info.url, store, verbose);
  const children = [sim, gateway];
  try {
    const submitted = await gql(gateway.info.url, SUBMIT, { input: smallEdit(sim.info.sampleUrl, 0) });
    const id = submitted.submitAiEdit.job.id as string;
    let job: Record<string, any> | undefined;
    for (let i = 0; i < 200; i++) {
      job = (await gql(gateway.info.url, READ, { id })).aiEditJob;
      if (job?.isFinal) break;
      await sleep(100);
    }
    if (job?.status !== 'DONE') throw new Error(`job did not finish: ${JSON.stringify(job)}`);
    await sleep(1_500); // past POLL_INTERVAL_MS, so a read never has a reason to go upstream
    const yoga = await spawnChild('bare-yoga', 'yoga', { core: GATEWAY_CORE, args: { job }, verbose });
    const raw = await spawnChild('raw', 'raw', { core: GATEWAY_CORE, args: { job }, verbose });
    children.push(yoga, raw);
    const variantUrls = {} as Record<MetricsVariant, string>;
    const gateways: Partial<Record<ServerName, Child>> = { gateway };
    for (const [name, env] of Object.entries(METRICS_VARIANTS) as [MetricsVariant, Record<string, string>][]) {
      const child = await startGatewayChild(sim.info.url, { ...store, ...env }, verbose, name);
      children.push(child);
      gateways[name] = child;
      variantUrls[name] = child.info.url;
    }
    const urls: Record<ServerName, string> = {
      gateway: gateway.info.url,
      ...variantUrls,
      'bare-yoga': yoga.info.url,
      'raw-graphql-js': raw.info.url,
    };

    const expected = JSON.stringify(job);
    const validate = (text: string) => {
      const body = JSON.parse(text) as { data?: { aiEditJob?: unknown }; errors?: unknown[] };
      if (body.errors?.length || !body.data) throw new Error(`error response: ${text.slice(0, 300)}`);
      if (JSON.stringify(body.data.aiEditJob) !== expected) throw new Error(`unexpected job: ${text.slice(0, 300)}`);
    };
    // Every server must give the same answer before it is timed.
    for (const name of SERVERS) validate(JSON.stringify({ data: await gql(urls[name], READ, { id }) }));

    const body = JSON.stringify({ query: READ, variables: { id }, operationName: 'Read' });
    const runs = Object.fromEntries(SERVERS.map((name) => [name, []])) as unknown as Record<ServerName, LoadResult[]>;
    for (let r = 0; r < rounds; r++) {
      for (const name of SERVERS) {
        const result = await closedLoop({
          url: `${urls[name]}/graphql`,
          body,
          validate,
          concurrency,
          durationMs,
          warmupMs,
        });
        log(
          `round ${r + 1} ${name}: ${Math.round(result.rps)} req/s, p50 ${round(result.latencyMs.p50)} ms, p99 ${round(result.latencyMs.p99)} ms, ${result.failed} failed, client cpu ${round(result.clientCpu)}`,
        );
        if (result.failed > 0)
          throw new Error(`${name}: ${result.failed} failed responses, first: ${result.firstFailure}`);
        runs[name].push(result);
      }
    }
    const summary = Object.fromEntries(
      SERVERS.map((name) => {
        const rs = runs[name];
        return [
          name,
          {
            rps: round(median(rs.map((x) => x.rps)), 0),
            p50Ms: round(median(rs.map((x) => x.latencyMs.p50))),
            p99Ms: round(median(rs.map((x) => x.latencyMs.p99))),
            ok: rs.reduce((s, x) => s + x.ok, 0),
            failed: rs.reduce((s, x) => s + x.failed, 0),
            clientCpu: round(median(rs.map((x) => x.clientCpu))),
          },
        ];
      }),
    ) as Record<
      ServerName,
      { rps: number; p50Ms: number; p99Ms: number; ok: number; failed: number; clientCpu: number }
    >;
    const pairs = quick ? 2 : 8;
    const load = { body, validate, concurrency };
    const variant = (name: 'gateway' | MetricsVariant) => ({ url: urls[name], child: gateways[name]! });
    const metricsCost = {
      cached: await pairedMetricsCost(
        { label: 'cached', off: variant('gateway'), on: variant('gateway+metrics') },
        load,
        pairs,
      ),
      uncached: await pairedMetricsCost(
        { label: 'uncached', off: variant('gateway-uncached'), on: variant('gateway-uncached+metrics') },
        load,
        pairs,
      ),
    };
    log(`metrics cost: ${JSON.stringify(metricsCost)}`);
    // The metrics must really have counted what was served (a cache hit is answered before the envelop: uncached).
    const counted = await countedReads(variantUrls['gateway-uncached+metrics']);
    if (counted < summary['gateway-uncached+metrics'].ok) throw new Error(`metrics counted ${counted} reads only`);
    const ratioYoga = summary.gateway.rps / summary['bare-yoga'].rps;
    const ratioRaw = summary.gateway.rps / summary['raw-graphql-js'].rps;
    const markdown = [
      `aiEditJob(id) on a stored DONE job (${Buffer.byteLength(expected)} B of job JSON), closed loop, ${concurrency} requests in flight on an undici Pool, ` +
        `${rounds} round(s) of ${durationMs / 1000} s after ${warmupMs / 1000} s warm-up per server, medians over rounds; every body checked.`,
      '',
      table(
        ['server', 'req/s', 'p50 ms', 'p99 ms', 'ok responses', 'failed', 'gateway / this'],
        SERVERS.map((name) => [
          name,
          summary[name].rps,
          summary[name].p50Ms,
          summary[name].p99Ms,
          summary[name].ok,
          summary[name].failed,
          round(summary.gateway.rps / summary[name].rps),
        ]),
      ),
      '',
      `Gateway / bare Yoga throughput: **${round(ratioYoga)}×** (target ≥ 1.5×); gateway / raw graphql-js: ${round(ratioRaw)}×.`,
      '',
      `Cost of metrics (READ_CACHE_MAX_BYTES=0 for uncached), as gateway CPU per read with / without − 1, median of ` +
        `${pairs} back-to-back pairs of 2 s runs: cached **${round(metricsCost.cached.cpuCost * 100, 1)} %** ` +
        `(${metricsCost.cached.cpuUsPerReadOn} vs ${metricsCost.cached.cpuUsPerReadOff} µs), uncached ` +
        `**${round(metricsCost.uncached.cpuCost * 100, 1)} %** (${metricsCost.uncached.cpuUsPerReadOn} vs ` +
        `${metricsCost.uncached.cpuUsPerReadOff} µs); in req/s ${round(metricsCost.cached.rpsCost * 100, 1)} % and ` +
        `${round(metricsCost.uncached.rpsCost * 100, 1)} %. Target ≤ 5 %. The machine is shared with other work.`,
    ].join('\n');
    return {
      result: {
        concurrency,
        rounds,
        durationMs,
        warmupMs,
        jobJsonBytes: Buffer.byteLength(expected),
        summary,
        ratios: { gatewayOverBareYoga: round(ratioYoga, 3), gatewayOverRaw: round(ratioRaw, 3) },
        metricsCost,
        runs,
      },
      markdown,
    };
  } finally {
    for (const child of children.reverse()) await child.stop();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbFile}${suffix}`, { force: true });
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
