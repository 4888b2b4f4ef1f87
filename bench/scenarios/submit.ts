import { Pool } from 'undici';
import { SUBMIT, smallEdit, smallEditWire } from '../lib/queries.js';
import { type Scenario, table } from '../lib/scenario.js';
import { startGatewayChild, startSimulatorChild } from '../lib/stack.js';
import { round, summarize } from '../lib/stats.js';

// Submit overhead: sequential submits straight to the simulator vs submitAiEdit through the gateway (budget set
// high), alternating in chunks so that both sides see the same machine. The input is a storage:// URL the simulator
// fails without downloading or rendering, so no image work runs during the measurement; the submit path is the same.

export const submit: Scenario = async ({ quick, verbose, log }) => {
  const perSide = quick ? 60 : 200;
  const warmup = quick ? 10 : 20;
  const chunk = quick ? 30 : 50;
  const input = 'storage://bench-bucket/input.jpg';

  const sim = await startSimulatorChild({ stepMs: 1500 }, verbose);
  // No polls during the run: what is measured is the submit path, not the reads of the jobs submitted before.
  const gateway = await startGatewayChild(
    sim.info.url,
    { POLL_INTERVAL_MS: '3600000', BACKGROUND_POLL_INTERVAL_MS: '3600000' },
    verbose,
  );
  const simPool = new Pool(sim.info.url, { connections: 1 });
  const gwPool = new Pool(gateway.info.url, { connections: 1 });
  try {
    let n = 0;
    const direct = async (): Promise<number> => {
      const body = JSON.stringify(smallEditWire(input, n++));
      const t0 = performance.now();
      const res = await simPool.request({
        path: '/v1/image/ai-edit',
        method: 'POST',
        headers: { authorization: `Bearer ${sim.info.apiKey}`, 'content-type': 'application/json' },
        body,
      });
      const text = await res.body.text();
      const ms = performance.now() - t0;
      const parsed = JSON.parse(text) as { data?: { id?: number; status?: string } };
      if (res.statusCode !== 200 || typeof parsed.data?.id !== 'number' || parsed.data.status !== 'ACCEPTED')
        throw new Error(`simulator submit: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
      return ms;
    };
    const viaGateway = async (): Promise<number> => {
      const body = JSON.stringify({
        query: SUBMIT,
        variables: { input: smallEdit(input, n++) },
        operationName: 'Submit',
      });
      const t0 = performance.now();
      const res = await gwPool.request({
        path: '/graphql',
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body,
      });
      const text = await res.body.text();
      const ms = performance.now() - t0;
      const parsed = JSON.parse(text) as {
        data?: { submitAiEdit?: { job?: { id?: string; status?: string } } };
        errors?: unknown[];
      };
      if (
        res.statusCode !== 200 ||
        parsed.errors?.length ||
        !parsed.data?.submitAiEdit?.job?.id ||
        parsed.data.submitAiEdit.job.status !== 'ACCEPTED'
      ) {
        throw new Error(`gateway submit: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
      }
      return ms;
    };

    for (let i = 0; i < warmup; i++) {
      await direct();
      await viaGateway();
    }
    const simMs: number[] = [];
    const gwMs: number[] = [];
    // CPU of the gateway's process over its chunks, per submit: steadier than latency on a shared machine.
    let gatewayCpuUs = 0;
    const cpuOf = async (child: typeof gateway) => {
      const { user, system } = await child.rpc<{ user: number; system: number }>('cpu');
      return user + system;
    };
    for (let done = 0; done < perSide; done += chunk) {
      for (let i = 0; i < chunk && done + i < perSide; i++) simMs.push(await direct());
      const before = await cpuOf(gateway);
      for (let i = 0; i < chunk && done + i < perSide; i++) gwMs.push(await viaGateway());
      gatewayCpuUs += (await cpuOf(gateway)) - before;
    }
    const gatewayCpuMsPerSubmit = gatewayCpuUs / 1000 / gwMs.length;
    const s = summarize(simMs);
    const g = summarize(gwMs);
    const overhead = { p50: g.p50 - s.p50, p99: g.p99 - s.p99, mean: g.mean - s.mean };
    log(
      `simulator p50 ${round(s.p50)} p99 ${round(s.p99)}; gateway p50 ${round(g.p50)} p99 ${round(g.p99)}; ` +
        `gateway CPU ${round(gatewayCpuMsPerSubmit, 3)} ms per submit`,
    );
    const stats = await sim.rpc<{ submits: number; byStatus: Record<string, number> }>('stats');
    const markdown = [
      `${perSide} sequential submits each way (after ${warmup} warm-up each), alternating in chunks of ${chunk}, one keep-alive connection per side; every response checked (HTTP 200, a task/job in ACCEPTED, no errors).`,
      '',
      table(
        ['path', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms'],
        [
          [
            'POST straight to the simulator',
            s.n,
            round(s.p50),
            round(s.p90),
            round(s.p99),
            round(s.max),
            round(s.mean),
          ],
          [
            'submitAiEdit through the gateway',
            g.n,
            round(g.p50),
            round(g.p90),
            round(g.p99),
            round(g.max),
            round(g.mean),
          ],
          [
            '**gateway overhead**',
            '',
            `**${round(overhead.p50)}**`,
            round(g.p90 - s.p90),
            `**${round(overhead.p99)}**`,
            round(g.max - s.max),
            round(overhead.mean),
          ],
        ],
      ),
      '',
      `Gateway CPU per submit (its process's user + system time over the gateway chunks / submits): ` +
        `**${round(gatewayCpuMsPerSubmit, 3)} ms**. Polls are an hour apart during the run, so that this is the submit path alone.`,
    ].join('\n');
    return {
      result: {
        perSide,
        warmup,
        chunk,
        simulatorMs: s,
        gatewayMs: g,
        overheadMs: { p50: round(overhead.p50, 3), p99: round(overhead.p99, 3), mean: round(overhead.mean, 3) },
        gatewayCpuMsPerSubmit: round(gatewayCpuMsPerSubmit, 3),
        simulatorStats: { submits: stats.submits, byStatus: stats.byStatus },
      },
      markdown,
    };
  } finally {
    await simPool.close();
    await gwPool.close();
    await gateway.stop();
    await sim.stop();
  }
};
