import { request } from 'undici';
import { postRequestBytes, RawConnection } from './raw-http-client.js';
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
  /** Send the body chunked (Transfer-Encoding: chunked, no Content-Length), as a client streaming its body would. */
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
 * Closed loop: `concurrency` keep-alive connections (bench/lib/raw-http-client.ts), each with one request in flight,
 * each answered request immediately followed by the next, for `durationMs` after `warmupMs`. Every response is
 * checked: status 200 and a body byte-equal to the first valid one, or else parsed and validated; anything else counts
 * as a failure.
 */
export async function closedLoop(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  const request = postRequestBytes(url, HEADERS, options.body, options.chunked ?? false);
  let expected: Buffer | undefined;
  let recording = false;
  let stop = false;
  let ok = 0;
  let failed = 0;
  let total = 0;
  let firstFailure: string | undefined;
  const latencies: number[] = [];
  let open = options.concurrency;
  let allStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    allStopped = resolve;
  });

  const check = (status: number, body: Buffer): void => {
    if (status === 200 && expected?.equals(body)) return;
    const text = body.toString('utf8');
    if (status !== 200) throw new Error(`HTTP ${status}: ${text.slice(0, 300)}`);
    options.validate(text);
    expected ??= Buffer.from(body);
  };

  const connections = Array.from({ length: options.concurrency }, () => {
    let started = 0;
    const next = () => {
      if (stop) {
        connection.close();
        if (--open === 0) allStopped();
        return;
      }
      started = performance.now();
      connection.send();
    };
    const settle = (good: boolean, failure?: string) => {
      if (good) total++;
      if (recording) {
        if (good) {
          ok++;
          latencies.push(performance.now() - started);
        } else {
          failed++;
          firstFailure ??= failure;
        }
      }
      next();
    };
    const connection = new RawConnection(
      Number(url.port),
      url.hostname,
      request,
      ({ status, body }) => {
        let failure: string | undefined;
        try {
          check(status, body);
        } catch (error) {
          failure = error instanceof Error ? error.message : String(error);
        }
        settle(failure === undefined, failure);
      },
      // A broken connection is a failed request; the next one reconnects (after a turn, not in a tight loop).
      (error) => setImmediate(() => settle(false, error.message)),
    );
    return next;
  });

  for (const start of connections) start();
  await new Promise((r) => setTimeout(r, options.warmupMs));
  recording = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, options.durationMs));
  recording = false;
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  stop = true;
  await stopped;
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
