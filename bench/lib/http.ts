import { Readable } from 'node:stream';
import { Pool, request } from 'undici';
import { summarize } from './stats.js';

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, any> }[];
}

const HEADERS = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };

/** One GraphQL request; throws unless the response has data and no errors. */
export async function gql<T = Record<string, any>>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<T> {
  const res = await request(`${url}/graphql`, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.body.text();
  let body: GraphQLResponse<T>;
  try {
    body = JSON.parse(text) as GraphQLResponse<T>;
  } catch {
    throw new Error(`HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`);
  }
  if (res.statusCode !== 200 || body.errors?.length || !body.data)
    throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 500)}`);
  return body.data;
}

export interface LoadOptions {
  url: string;
  /** The JSON body sent every time. */
  body: string;
  /** Checks a response body that differs from the first valid one; throws when it is not a valid answer. */
  validate: (text: string) => void;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /** Send the body chunked (a stream, no Content-Length), as a client streaming its body would. */
  chunked?: boolean;
}

export interface LoadResult {
  concurrency: number;
  durationMs: number;
  ok: number;
  failed: number;
  /** Every request answered over the whole loop, warm-up and drain included (for CPU per request). */
  total: number;
  firstFailure?: string;
  rps: number;
  latencyMs: ReturnType<typeof summarize>;
  /** Share of one core the load generator used while measuring (near 1: the client may be the bottleneck). */
  clientCpu: number;
}

/**
 * Closed loop: `concurrency` requests in flight on an undici Pool with as many connections, each answered request
 * immediately followed by the next, for `durationMs` after `warmupMs`. Every response body is checked: byte-equal to
 * the first valid one, or else parsed and validated; anything else counts as a failure.
 */
export async function closedLoop(options: LoadOptions): Promise<LoadResult> {
  const origin = new URL(options.url).origin;
  const path = new URL(options.url).pathname;
  const pool = new Pool(origin, { connections: options.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  let expected: string | undefined;
  let recording = false;
  let stop = false;
  let ok = 0;
  let failed = 0;
  let total = 0;
  let firstFailure: string | undefined;
  const latencies: number[] = [];

  const one = async () => {
    const started = performance.now();
    let good = false;
    try {
      const body = options.chunked ? Readable.from([Buffer.from(options.body)]) : options.body;
      const res = await pool.request({ path, method: 'POST', headers: HEADERS, body });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
      if (text !== expected) {
        options.validate(text);
        expected ??= text;
      }
      good = true;
      total++;
    } catch (error) {
      if (recording) firstFailure ??= error instanceof Error ? error.message : String(error);
    }
    if (!recording) return;
    if (good) {
      ok++;
      latencies.push(performance.now() - started);
    } else failed++;
  };
  const worker = async () => {
    while (!stop) await one();
  };

  const workers = Array.from({ length: options.concurrency }, worker);
  await new Promise((r) => setTimeout(r, options.warmupMs));
  recording = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, options.durationMs));
  recording = false;
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  stop = true;
  await Promise.all(workers);
  await pool.close();
  return {
    concurrency: options.concurrency,
    durationMs: Math.round(elapsed),
    ok,
    failed,
    total,
    firstFailure,
    rps: (ok / elapsed) * 1000,
    latencyMs: summarize(latencies),
    clientCpu: (cpu.user + cpu.system) / 1000 / elapsed,
  };
}
