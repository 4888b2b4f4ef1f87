import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import WebSocket from 'ws';
import { gql, SUBMIT, startTestGateway } from '../../test/support/gateway.js';
import { UPDATED } from '../lib/queries.js';

// What one graphql-ws subscriber of a shared subscription keeps on the gateway's heap, by kind of object: a heap
// snapshot before and after N subscribers (100 per socket) of one job, in this process, after forced GCs.
//   node --expose-gc --import tsx bench/tools/heap-per-subscriber.ts [N=2000]
// The clients are bare sockets that keep nothing per subscription, so the difference is the gateway's.

const N = Number(process.argv[2] ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const gateway = await startTestGateway({ env: { SIMULATOR_STEP_MS: '600000' } });
const sample = (gateway.internals as unknown as { simulator: { sampleUrl(): string } }).simulator.sampleUrl();
const res = await gql(gateway, SUBMIT, { input: { input: sample, options: { prompt: 'add a duck' } } });
const job = res.data!.submitAiEdit.job as { id: string };
let events = 0;
const sockets: WebSocket[] = [];
for (let k = 0; k < Math.ceil(N / 100); k++) {
  const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise<void>((resolve) => {
    ws.once('open', () => ws.send('{"type":"connection_init"}'));
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('"connection_ack"')) resolve();
      else if (text.includes('"type":"next"')) events++;
    });
  });
  sockets.push(ws);
}
const snapshot = (name: string) => {
  gc();
  gc();
  return writeHeapSnapshot(join(tmpdir(), `heap-per-subscriber-${process.pid}-${name}.heapsnapshot`));
};
const before = snapshot('before');
const heapBefore = process.memoryUsage().heapUsed;
let i = 0;
for (const ws of sockets)
  for (let j = 0; j < 100 && i < N; j++, i++)
    ws.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: UPDATED, variables: { id: job.id } } }));
while (events < N) await new Promise((resolve) => setTimeout(resolve, 100));
const after = snapshot('after');
const heapAfter = process.memoryUsage().heapUsed;

/** Count and self size per kind: object and closure names, else the node type. */
function kinds(file: string): Map<string, [number, number]> {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const fields: string[] = s.snapshot.meta.node_fields;
  const types: string[] = s.snapshot.meta.node_types[0];
  const [width, ti, ni, si] = [
    fields.length,
    fields.indexOf('type'),
    fields.indexOf('name'),
    fields.indexOf('self_size'),
  ];
  const out = new Map<string, [number, number]>();
  for (let n = 0; n < s.nodes.length; n += width) {
    const type = types[s.nodes[n + ti]]!;
    const name = type === 'object' ? s.strings[s.nodes[n + ni]] : type === 'closure' ? 'closure' : `(${type})`;
    const entry = out.get(name) ?? [0, 0];
    entry[0]++;
    entry[1] += s.nodes[n + si];
    out.set(name, entry);
  }
  return out;
}
const [a, b] = [kinds(before), kinds(after)];
const rows = [...b].map(([name, [count, size]]) => {
  const [c0, s0] = a.get(name) ?? [0, 0];
  return { name, perSubscriber: (count - c0) / N, bytes: (size - s0) / N };
});
rows.sort((x, y) => y.bytes - x.bytes);
console.log(`${N} subscribers: heapUsed +${((heapAfter - heapBefore) / N).toFixed(0)} B per subscriber`);
for (const r of rows.slice(0, 20))
  console.log(`${r.bytes.toFixed(0).padStart(6)} B ${r.perSubscriber.toFixed(2).padStart(6)} × ${r.name}`);
for (const ws of sockets) ws.close();
await gateway.stop();
process.exit(0);
