import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import { gql } from '../lib/http.js';
import { SUBMIT, smallEdit, UPDATED } from '../lib/queries.js';
import { type Scenario, table } from '../lib/scenario.js';
import { startGatewayChild, startSimulatorChild } from '../lib/stack.js';
import { round, sleep, summarize } from '../lib/stats.js';
import { connectAll, describeError } from '../lib/ws.js';

// Upstream efficiency under Claid's real limits: 500 watched jobs, the simulator enforcing 4/s and 120/min with 429s,
// the gateway on its default budget (4/s, 120/min), for 60 s (quick: 20 s).
//
// 500 submits cost 500 of the account's requests (over four minutes at 120/min), so the jobs are made first by a
// gateway with a high budget on a SQLite file (the simulator's limiter is reset before each submit, so nothing is
// refused and its RateLimit headers never ask for a pause); that gateway stops, the simulator's counters are reset,
// and the measured gateway starts on the same file with the default budget, picks the 500 unfinished jobs up, and
// gets one subscriber per job.

const JOBS = 500;
const PER_CONNECTION = 100;
const POLL_INTERVAL_MS = 1_000;
const CLAID = { perSecond: 4, perMinute: 120 };

interface Sub {
  events: { status: string; receivedAt: number }[];
  completed: boolean;
  error?: string;
}

export const upstream: Scenario = async ({ quick, verbose, log }) => {
  const durationMs = quick ? 20_000 : 60_000;
  const dbFile = join(tmpdir(), `bench-upstream-${process.pid}.db`);
  const removeDb = () => {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(dbFile + suffix, { force: true });
  };
  removeDb();
  const sim = await startSimulatorChild({ stepMs: 3_000, rateLimit: CLAID }, verbose);
  const clients: Client[] = [];
  try {
    // Phase A: make the jobs.
    const maker = await startGatewayChild(
      sim.info.url,
      { DATABASE_URL: `sqlite:${dbFile}`, BACKGROUND_POLL_INTERVAL_MS: '3600000' },
      verbose,
    );
    const jobs: { id: string; upstreamId: number }[] = [];
    try {
      for (let i = 0; i < JOBS; i++) {
        await sim.rpc('reset');
        jobs.push((await gql(maker.info.url, SUBMIT, { input: smallEdit(sim.info.sampleUrl, i) })).submitAiEdit.job);
      }
    } finally {
      await maker.stop();
    }
    log(`${JOBS} jobs made`);

    // Phase B: the measured gateway, default budget, one subscriber per job.
    await sim.rpc('reset');
    const gateway = await startGatewayChild(
      sim.info.url,
      {
        DATABASE_URL: `sqlite:${dbFile}`,
        POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
        UPSTREAM_MAX_RPS: String(CLAID.perSecond),
        UPSTREAM_MAX_RPM: String(CLAID.perMinute),
      },
      verbose,
    );
    try {
      const t0 = Date.now();
      const url = `${gateway.info.url.replace(/^http/, 'ws')}/graphql`;
      clients.push(...(await connectAll(url, JOBS / PER_CONNECTION)));
      const subs: Sub[] = jobs.map((job, i) => {
        const sub: Sub = { events: [], completed: false };
        clients[Math.floor(i / PER_CONNECTION)]!.subscribe(
          { query: UPDATED, variables: { id: job.id } },
          {
            next: (value) => {
              const j = (value.data as { aiEditJobUpdated?: { id: string; status: string } } | null | undefined)
                ?.aiEditJobUpdated;
              if (value.errors?.length || !j || j.id !== job.id)
                sub.error ??= `bad event: ${JSON.stringify(value).slice(0, 300)}`;
              else sub.events.push({ status: j.status, receivedAt: Date.now() });
            },
            error: (error) => {
              sub.error ??= `error: ${describeError(error)}`;
            },
            complete: () => {
              sub.completed = true;
            },
          },
        );
        return sub;
      });
      const timeline: {
        atS: number;
        reads: number;
        r429: number;
        firstEvents: number;
        final: number;
        queued: number;
      }[] = [];
      while (Date.now() - t0 < durationMs) {
        await sleep(5_000);
        const s = await sim.rpc<{ reads: number; byStatus: Record<string, number> }>('stats');
        const b = await gateway.rpc<{ queued: number }>('budget');
        timeline.push({
          atS: Math.round((Date.now() - t0) / 1000),
          reads: s.reads,
          r429: s.byStatus['429'] ?? 0,
          firstEvents: subs.filter((x) => x.events.length > 0).length,
          final: subs.filter((x) => x.events.at(-1)?.status === 'DONE' || x.events.at(-1)?.status === 'ERROR').length,
          queued: b.queued,
        });
        const failed = subs.find((x) => x.error);
        if (failed) throw new Error(`subscription failed: ${failed.error}`);
      }
      const elapsedMs = Date.now() - t0;
      const stats = await sim.rpc<{
        reads: number;
        submits: number;
        readsByTask: Record<string, number>;
        byStatus: Record<string, number>;
      }>('stats');
      const budget = await gateway.rpc<Record<string, unknown> & { rateLimited: number }>('budget');
      const poller = await gateway.rpc<Record<string, unknown>>('poller');
      delete poller.readsByJob;

      const intervals = elapsedMs / POLL_INTERVAL_MS;
      const perJobReads = jobs.map((j) => stats.readsByTask[String(j.upstreamId)] ?? 0);
      const r429 = stats.byStatus['429'] ?? 0;
      const firstEventS = subs.filter((s) => s.events.length > 0).map((s) => (s.events[0]!.receivedAt - t0) / 1000);
      const progressed = subs.filter(
        (s) => s.events.length > 1 || (s.events[0] && s.events[0].status !== 'ACCEPTED'),
      ).length;
      const final = subs.filter((s) => ['DONE', 'ERROR'].includes(s.events.at(-1)?.status ?? '')).length;
      const done = subs.filter((s) => s.events.at(-1)?.status === 'DONE').length;
      // What the account allows over this window, sustained: 4/s, but no more than 120 a minute (2/s).
      const ceiling = Math.floor((elapsedMs / 1000) * Math.min(CLAID.perSecond, CLAID.perMinute / 60));
      const result = {
        jobs: JOBS,
        durationMs: elapsedMs,
        pollIntervalMs: POLL_INTERVAL_MS,
        limits: CLAID,
        shape: { connections: clients.length, subscriptionsPerConnection: PER_CONNECTION },
        upstream: {
          requests: stats.reads + stats.submits,
          reads: stats.reads,
          ceiling,
          responses: stats.byStatus,
          simulator429s: r429,
          gateway429sSeen: budget.rateLimited,
          readsPerJobPerInterval: stats.reads / JOBS / intervals,
          idealReadsPerJobPerInterval: 1,
          ceilingReadsPerJobPerInterval: ceiling / JOBS / intervals,
          jobsRead: perJobReads.filter((r) => r > 0).length,
          maxReadsOneJob: Math.max(...perJobReads),
        },
        progress: {
          subscribersWithFirstEvent: firstEventS.length,
          firstEventSeconds: summarize(firstEventS),
          jobsThatMoved: progressed,
          jobsFinal: final,
          jobsDone: done,
        },
        budget,
        poller,
        timeline,
      };
      const markdown = [
        `${JOBS} jobs, one graphql-ws subscriber each (${clients.length} sockets × ${PER_CONNECTION}), POLL_INTERVAL_MS=${POLL_INTERVAL_MS}, ` +
          `the simulator enforcing ${CLAID.perSecond}/s and ${CLAID.perMinute}/min (429 beyond), the gateway on its default budget, ${round(elapsedMs / 1000, 0)} s.`,
        '',
        table(
          [
            'upstream requests',
            'account ceiling (120/min)',
            '429s at the simulator',
            '429s the gateway saw',
            'reads / job / interval',
            'at 1 per interval it would be',
            'jobs read at least once',
            'most reads of one job',
            'subscribers with a first event',
            'first event p50 / max (s)',
            'jobs that moved',
            'jobs final',
          ],
          [
            [
              stats.reads + stats.submits,
              ceiling,
              r429,
              budget.rateLimited,
              String(round(result.upstream.readsPerJobPerInterval, 4)),
              `${round(JOBS * intervals, 0)} reads`,
              `${result.upstream.jobsRead} / ${JOBS}`,
              result.upstream.maxReadsOneJob,
              `${firstEventS.length} / ${JOBS}`,
              `${round(result.progress.firstEventSeconds.p50, 1)} / ${round(result.progress.firstEventSeconds.max, 1)}`,
              `${progressed} / ${JOBS}`,
              `${final} / ${JOBS}`,
            ],
          ],
        ),
      ].join('\n');
      log(
        `reads ${stats.reads} (ceiling ${ceiling}), 429s ${r429}/${budget.rateLimited}, first events ${firstEventS.length}, moved ${progressed}, final ${final}`,
      );
      return { result, markdown };
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
      await gateway.stop();
    }
  } finally {
    await sim.stop();
    removeDb();
  }
};
