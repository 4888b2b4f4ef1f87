import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { UPDATED } from './queries.js';

// One load-generator process of the subscription benchmarks (mode `subscribers` of bench/server.ts, started by
// bench/lib/subscriber-pool.ts): it holds some of the graphql-ws sockets and subscriptions and records every frame.
//
// Receiving must cost as little as possible, or the benchmark measures itself: 10,000 frames arrive per change on
// one job. So a frame is only timestamped (Date.now(), the machine's one clock, the same the gateway stamps
// `updatedAt` with) and kept as received; its subscription id is sliced from the frame's start, which is enough to
// count first events and completions. Parsing and checking every frame happens after the walk (`results`).
// The graphql-ws protocol is spoken directly (connection_init, subscribe, next/error/complete, ping/pong) rather than
// through graphql-ws's client, which parses and validates every message as it arrives.

interface Socket {
  ws: WebSocket;
  acked: Promise<void>;
  ack: () => void;
}

interface SubState {
  job: number;
  jobId: string;
  socket: number;
  /** Frames received for this subscription: the raw text and when it arrived. */
  frames: string[];
  receivedAt: number[];
  nexts: number;
  completed: boolean;
  error?: string;
}

const sockets = new Map<number, Socket>();
const subs = new Map<number, SubState>();
/** [Date.now(), CPU µs (user + system), event-loop busy ms] every SAMPLE_MS: the load generator's own load. */
const timeline: [number, number, number][] = [];
const SAMPLE_MS = 10;
let sampler: NodeJS.Timeout | undefined;

function sample(): void {
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  timeline.push([Date.now(), cpu.user + cpu.system, elu.active]);
}

function onFrame(data: WebSocket.RawData, socket: Socket): void {
  const at = Date.now();
  const text = data.toString();
  // Every frame but the ack and pings starts {"id":"<n>" (ours and graphql-ws's own).
  if (text.startsWith('{"id":"')) {
    const end = text.indexOf('"', 7);
    const sub = subs.get(Number(text.slice(7, end)));
    if (!sub) return;
    sub.frames.push(text);
    sub.receivedAt.push(at);
    const type = text.slice(end + 10, end + 14);
    if (type === 'next') {
      // A refusal comes as a `next` with errors only (e.g. STORE_UNAVAILABLE at subscribe time): fail now, not after
      // the walk (results() checks every frame).
      if (sub.nexts++ === 0 && text.includes('"payload":{"errors"')) sub.error ??= `refused: ${text.slice(0, 300)}`;
    } else if (type === 'comp') sub.completed = true;
    else sub.error ??= `frame: ${text.slice(0, 300)}`;
    return;
  }
  const message = JSON.parse(text) as { type: string };
  if (message.type === 'ping') socket.ws.send('{"type":"pong"}');
  else if (message.type === 'connection_ack') socket.ack();
  else if (message.type !== 'pong') throw new Error(`unexpected frame ${text.slice(0, 200)}`);
}

function open(index: number, url: string): Socket {
  const ws = new WebSocket(url, 'graphql-transport-ws');
  const socket = { ws } as Socket;
  socket.acked = new Promise<void>((resolve, reject) => {
    socket.ack = resolve;
    ws.once('open', () => ws.send('{"type":"connection_init","payload":{}}'));
    ws.on('close', (code, reason) => reject(new Error(`socket ${index} closed ${code} ${reason.toString()}`)));
    ws.on('error', reject);
  });
  ws.on('message', (data) => onFrame(data, socket));
  // A close after the walk is ours; before it, the sub's missing completion reports it.
  socket.acked.catch(() => undefined);
  return socket;
}

export const subscriberHandlers: Record<string, (args: any) => unknown> = {
  /** Opens these sockets ({ index, url }) and waits for every connection_ack. */
  async connect(list: { index: number; url: string }[]) {
    for (const { index, url } of list) sockets.set(index, open(index, url));
    await Promise.all([...sockets.values()].map((s) => s.acked));
    sampler ??= setInterval(sample, SAMPLE_MS);
    return { sockets: sockets.size };
  },
  /** Subscribes ({ index, job, jobId, socket }), each on its socket, to aiEditJobUpdated of its job. */
  subscribe(list: { index: number; job: number; jobId: string; socket: number }[]) {
    for (const s of list) {
      subs.set(s.index, { ...s, frames: [], receivedAt: [], nexts: 0, completed: false });
      const payload = { query: UPDATED, variables: { id: s.jobId } };
      sockets.get(s.socket)!.ws.send(JSON.stringify({ id: String(s.index), type: 'subscribe', payload }));
    }
    return { subs: subs.size };
  },
  /** How many subscriptions have a first event and how many completed; the first failure, if any. */
  progress() {
    let withEvent = 0;
    let completed = 0;
    let error: string | undefined;
    for (const sub of subs.values()) {
      if (sub.nexts > 0) withEvent++;
      if (sub.completed) completed++;
      if (sub.error) error ??= `subscriber ${sub.job}: ${sub.error}`;
    }
    return { withEvent, completed, error };
  },
  /** Marks the start of a measured window: the timeline is cut there. */
  mark() {
    timeline.length = 0;
    sample();
    return { at: Date.now() };
  },
  /**
   * Every subscription's events, parsed and checked now ({ status, updatedAt, receivedAt }; a bad frame is the
   * subscription's error), and the timeline of this process's CPU and event-loop use.
   */
  results() {
    sample();
    const out = [...subs.entries()].map(([index, sub]) => {
      const events: [string, number, number][] = [];
      let error = sub.error;
      sub.frames.forEach((text, i) => {
        const message = JSON.parse(text) as {
          type: string;
          payload?: { data?: { aiEditJobUpdated?: { id: string; status: string; updatedAt: string } }; errors?: [] };
        };
        if (message.type !== 'next') return;
        const job = message.payload?.data?.aiEditJobUpdated;
        if (message.payload?.errors?.length || !job || job.id !== sub.jobId) {
          error ??= `bad event: ${text.slice(0, 300)}`;
          return;
        }
        events.push([job.status, Date.parse(job.updatedAt), sub.receivedAt[i]!]);
      });
      return { index, events, completed: sub.completed, error };
    });
    return { subs: out, timeline };
  },
  close() {
    if (sampler) clearInterval(sampler);
    for (const s of sockets.values()) s.ws.close();
    sockets.clear();
    return { closed: true };
  },
};
