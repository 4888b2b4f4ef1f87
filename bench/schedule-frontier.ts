import { type DurationBasis, nextReadAt } from '../src/services/jobs/duration-model.js';
import { arrivalDurations, type DurationSpec, durationPlanner } from './lib/durations.js';

// Offline: what the learned schedule (duration-model.ts's nextReadAt) costs and gives on the arrivals scenario's
// durations when nothing else interferes: no budget, no queue, exact finish times in the history. It sweeps the
// planner's two knobs and prints reads per job and detection delay p50 / p95, the frontier the arrivals benchmark's
// learned mode can at best reach. `npx tsx bench/schedule-frontier.ts` (a few seconds).

const SPEC: DurationSpec = arrivalDurations(7);
const HISTORY = 300;
const JOBS = 3_000;

const history = Array.from({ length: HISTORY }, durationPlanner(SPEC));
const basis: DurationBasis = {
  originMs: 0,
  sortedMs: history.map((h) => h.doneAtMs).sort((a, b) => a - b),
  detectionLagMs: 0,
};
const jobs = Array.from({ length: JOBS }, durationPlanner({ ...SPEC, seed: 99 }));

const quantile = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))]! / 1000;

const rows: string[] = [
  '| hazard share | max gap share | reads / job | p50 (s) | p95 (s) |',
  '| --- | --- | --- | --- | --- |',
];
for (const hazardShare of (process.env.SHARES ?? '0.12,0.15,0.18,0.2,0.25').split(',').map(Number)) {
  for (const maxGapShare of (process.env.GAPS ?? '0.25,0.275,0.3,0.325').split(',').map(Number)) {
    const delays: number[] = [];
    let reads = 0;
    for (const { doneAtMs } of jobs) {
      // The submit is the job's first "read": the schedule starts from it.
      for (let last = 0; ; ) {
        const at = nextReadAt({
          basis,
          lastReadAt: last,
          pollIntervalMs: 1_000,
          backgroundPollIntervalMs: 5_000,
          tuning: { hazardShare, maxGapShare },
        });
        reads++;
        if (at >= doneAtMs) {
          delays.push(at - doneAtMs);
          break;
        }
        last = at;
      }
    }
    delays.sort((a, b) => a - b);
    rows.push(
      `| ${hazardShare} | ${maxGapShare} | ${(reads / JOBS).toFixed(2)} | ${quantile(delays, 0.5).toFixed(2)} | ${quantile(delays, 0.95).toFixed(2)} |`,
    );
  }
}
console.log(rows.join('\n'));
