import type { Child } from '../lib/child.js';
import { closedLoop } from '../lib/http.js';
import { median, round, sleep } from '../lib/stats.js';

// The cost of metrics on reads (issue 14), measured so that a shared machine's load cancels out: many short runs of
// the gateway without and with metrics back to back, the ratio of their CPU per read taken per pair, the median of
// those ratios reported. Load that drifts over seconds hits both halves of a pair alike.

export interface MetricsPair {
  label: string;
  off: { url: string; child: Child };
  on: { url: string; child: Child };
}

export interface PairedCost {
  label: string;
  pairs: number;
  /** Median over pairs of (CPU per read with metrics / without) − 1. */
  cpuCost: number;
  /** Median over pairs of 1 − (req/s with / without). */
  rpsCost: number;
  cpuUsPerReadOff: number;
  cpuUsPerReadOn: number;
}

/** CPU µs the server process spends from `afterMs` on, for `durationMs`: the closed loop's timed window. */
export async function serverCpuDuring(child: Child, afterMs: number, durationMs: number): Promise<number> {
  type Usage = { user: number; system: number };
  await sleep(afterMs);
  const start = await child.rpc<Usage>('cpu');
  await sleep(durationMs);
  const end = await child.rpc<Usage>('cpu');
  return end.user + end.system - start.user - start.system;
}

export async function pairedMetricsCost(
  pair: MetricsPair,
  load: { body: string; validate: (text: string) => void; concurrency: number },
  pairs: number,
): Promise<PairedCost> {
  const warmupMs = 500;
  const durationMs = 2_000;
  const measure = async ({ url, child }: { url: string; child: Child }) => {
    const cpu = serverCpuDuring(child, warmupMs, durationMs);
    const result = await closedLoop({ url: `${url}/graphql`, ...load, durationMs, warmupMs });
    if (result.failed > 0) throw new Error(`${pair.label}: ${result.failed} failed, first: ${result.firstFailure}`);
    return { cpuPerRead: (await cpu) / result.ok, rps: result.rps };
  };
  const cpuRatios: number[] = [];
  const rpsRatios: number[] = [];
  const off: number[] = [];
  const on: number[] = [];
  for (let i = 0; i < pairs; i++) {
    // Alternate which goes first, so that neither is always the one after a pause.
    const [a, b] = i % 2 === 0 ? [pair.off, pair.on] : [pair.on, pair.off];
    const first = await measure(a);
    const second = await measure(b);
    const [without, withMetrics] = i % 2 === 0 ? [first, second] : [second, first];
    cpuRatios.push(withMetrics.cpuPerRead / without.cpuPerRead);
    rpsRatios.push(withMetrics.rps / without.rps);
    off.push(without.cpuPerRead);
    on.push(withMetrics.cpuPerRead);
  }
  return {
    label: pair.label,
    pairs,
    cpuCost: round(median(cpuRatios) - 1, 3),
    rpsCost: round(1 - median(rpsRatios), 3),
    cpuUsPerReadOff: round(median(off), 1),
    cpuUsPerReadOn: round(median(on), 1),
  };
}
