import WebSocket from 'ws';
import { gql, SUBMIT, startTestGateway } from '../../test/support/gateway.js';
import { claidResult, startTestUpstream } from '../../test/support/test-upstream.js';
import { UPDATED } from '../lib/queries.js';

// The CPU one gateway spends on a change of a job with N graphql-ws subscribers (100 per socket), and on its final
// change with every subscriber's completion, measured in one process (process.cpuUsage, from the upstream change to
// the last frame), so that the machine's other load moves it less than the benchmarks' wall-clock figures. The
// clients are bare sockets that only count frames; their receiving is in the figure too, the same for any gateway.
//   node --import tsx bench/tools/fanout-cpu.ts [N=5000]

const N = Number(process.argv[2] ?? 5000);
const upstream = await startTestUpstream({ apiKey: 'upstream-key' });
const gateway = await startTestGateway({
  env: { CLAID_API_KEY: 'upstream-key', CLAID_API_URL: upstream.url, POLL_INTERVAL_MS: '200' },
});
const input = { input: 'https://images.example.com/room.jpg', options: { prompt: 'add a duck' } };
const job = (await gql(gateway, SUBMIT, { input })).data!.submitAiEdit.job as { id: string; upstreamId: number };
let nexts = 0;
let completes = 0;
const sockets: WebSocket[] = [];
for (let k = 0; k < Math.ceil(N / 100); k++) {
  const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise<void>((resolve) => {
    ws.once('open', () => ws.send('{"type":"connection_init"}'));
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('"connection_ack"')) resolve();
      else if (text.includes('"type":"next"')) nexts++;
      else if (text.includes('"type":"complete"')) completes++;
    });
  });
  sockets.push(ws);
}
let i = 0;
for (const ws of sockets)
  for (let j = 0; j < 100 && i < N; j++, i++)
    ws.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: UPDATED, variables: { id: job.id } } }));
const until = async (done: () => boolean) => {
  while (!done()) await new Promise((resolve) => setImmediate(resolve));
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
await until(() => nexts >= N);

async function measure(status: 'PROCESSING' | 'DONE', done: () => boolean): Promise<string> {
  await sleep(500);
  const cpu = process.cpuUsage();
  const t0 = Date.now();
  upstream.setTask(job.upstreamId, status === 'DONE' ? { status, result: claidResult() } : { status });
  await until(done);
  const used = process.cpuUsage(cpu);
  return `${status} ${((used.user + used.system) / 1000).toFixed(0)} ms CPU (${Date.now() - t0} ms)`;
}
const changed = await measure('PROCESSING', () => nexts >= 2 * N);
const final = await measure('DONE', () => nexts >= 3 * N && completes >= N);
console.log(`${N} subscribers on one job: ${changed}; ${final}, completions included`);
for (const ws of sockets) ws.close();
await gateway.stop();
await upstream.close();
process.exit(0);
