import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { Agent, request } from 'undici';
import { UpstreamError } from '../../domain/errors.js';
import type { AiEditRequest, UpstreamTaskState } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import {
  AttemptFailure,
  classifyResponseError,
  keyScrubber,
  markNotSent,
  networkFailure,
  parseTaskAnswer,
} from './claid-attempt.js';
import {
  type ClaidOperation,
  connectionError,
  parseRateLimitHeaders,
  type ResponseHeaders,
  requestIdOf,
  upstreamErrorFromResponse,
} from './claid-errors.js';
import { toClaidRequestBody } from './claid-mapping.js';

export { wasCertainlyNotSent } from './claid-attempt.js';

// The one place that talks HTTP to Claid. Every call is bounded by timeoutMs (headers and body together), logged
// as one line per attempt, and counted against an optional rate budget. Status reads are retried; a submit is
// retried only when it certainly never left this process, because Claid has no idempotency key and a second
// submit would create (and bill) a second task.

export interface UpstreamBudget {
  /** Resolves when a request may be sent. */
  acquire(kind: 'submit' | 'read'): Promise<void>;
  /** Called after every answer; httpStatus is null when no answer arrived. */
  observe(obs: { httpStatus: number | null; remaining: number | null; resetSeconds: number | null }): void;
}

export interface ClaidClientOptions {
  /** e.g. `https://api.claid.ai`; a trailing `/v1` is tolerated. */
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  /** Retries of a failed status read (and of a submit that certainly was not sent). */
  retries: number;
  logger: Logger;
  budget?: UpstreamBudget;
  /** Told of every attempt's answer (metrics); httpStatus is null when no answer arrived. */
  onCall?: (call: UpstreamCallObservation) => void;
}

export interface UpstreamCallObservation {
  kind: 'submit' | 'read';
  httpStatus: number | null;
  durationMs: number;
}

export interface ClaidClient {
  submit(request: AiEditRequest): Promise<UpstreamTaskState>;
  getTask(upstreamId: number): Promise<UpstreamTaskState>;
  /** Lets in-flight calls finish, abandons pending retries, and refuses new calls. */
  close(): Promise<void>;
}

const BACKOFF_BASE_MS = 200;
const BACKOFF_FACTOR = 2;
const BACKOFF_MAX_MS = 5_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

function apiRoot(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
}

export function createClaidClient(options: ClaidClientOptions): ClaidClient {
  const { apiKey, timeoutMs, retries, budget, onCall } = options;
  const root = apiRoot(options.baseUrl);
  const logger = options.logger.child({ component: 'claid-client' });
  const agent = new Agent({
    keepAliveTimeout: 10_000,
    connections: 32,
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    maxResponseSize: MAX_RESPONSE_BYTES,
  });
  const closing = new AbortController();
  const headers = {
    authorization: `Bearer ${apiKey}`,
    accept: 'application/json',
    'user-agent': 'ai-edit-graphql-gateway',
  };

  const scrubbed = keyScrubber(apiKey);
  const closedError = () => connectionError('the Claid client is closed');

  interface Call {
    kind: ClaidOperation;
    method: 'GET' | 'POST';
    path: string;
    body?: string;
    upstreamId?: number;
  }

  async function attempt(call: Call, attemptNumber: number): Promise<UpstreamTaskState> {
    if (closing.signal.aborted) throw new AttemptFailure(markNotSent(closedError()), false);
    try {
      await budget?.acquire(call.kind);
    } catch (err) {
      // The budget closed or gave up: nothing was sent.
      throw new AttemptFailure(markNotSent(err instanceof UpstreamError ? err : closedError()), false);
    }

    const started = performance.now();
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    let httpStatus: number | null = null;
    let responseHeaders: ResponseHeaders = {};
    let bodyText: string | undefined;
    let failure: AttemptFailure | undefined;
    let networkReason: string | undefined;

    try {
      const res = await request(`${root}${call.path}`, {
        dispatcher: agent,
        method: call.method,
        headers: call.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: call.body,
        signal: timeout.signal,
      });
      httpStatus = res.statusCode;
      responseHeaders = res.headers;
      bodyText = await res.body.text();
    } catch (err) {
      ({ failure, reason: networkReason } = networkFailure(err, call.kind, timeout.signal.aborted, timeoutMs));
    } finally {
      clearTimeout(timer);
    }

    let task: UpstreamTaskState | undefined;
    if (httpStatus !== null && bodyText !== undefined) {
      if (httpStatus >= 200 && httpStatus < 300) {
        try {
          task = parseTaskAnswer(httpStatus, requestIdOf(responseHeaders), bodyText);
        } catch (err) {
          if (!(err instanceof UpstreamError)) throw err;
          // A submit that got a 2xx was taken upstream: sending it again would create a second task.
          failure = new AttemptFailure(err, call.kind === 'read');
        }
      } else {
        const error = upstreamErrorFromResponse({
          operation: call.kind,
          ...(call.upstreamId === undefined ? {} : { upstreamId: call.upstreamId }),
          status: httpStatus,
          headers: responseHeaders,
          bodyText,
        });
        failure = classifyResponseError(call.kind, error);
      }
    }

    const durationMs = Math.round(performance.now() - started);
    budget?.observe({ httpStatus, ...parseRateLimitHeaders(responseHeaders) });
    onCall?.({ kind: call.kind, httpStatus, durationMs: performance.now() - started });

    const line = {
      kind: call.kind,
      method: call.method,
      path: call.path,
      attempt: attemptNumber,
      httpStatus,
      durationMs,
      claidRequestId: requestIdOf(responseHeaders),
    };
    if (failure || !task) {
      const failed = failure ?? new AttemptFailure(connectionError('no answer'), false);
      const error = scrubbed(failed.error);
      const willRetry = failed.retryable && attemptNumber <= retries;
      logger.info(
        { ...line, code: error.code, ...(networkReason ? { reason: networkReason } : {}), willRetry },
        'claid call failed',
      );
      throw new AttemptFailure(error, failed.retryable, failed.waitMs);
    }
    logger.info({ ...line, taskStatus: task.status }, 'claid call');
    return task;
  }

  async function run(call: Call): Promise<UpstreamTaskState> {
    if (closing.signal.aborted) throw markNotSent(closedError());
    try {
      return await pRetry((n) => attempt(call, n), {
        retries,
        factor: BACKOFF_FACTOR,
        minTimeout: BACKOFF_BASE_MS,
        maxTimeout: BACKOFF_MAX_MS,
        randomize: true,
        shouldRetry: (err) => err instanceof AttemptFailure && err.retryable,
        onFailedAttempt: async (err) => {
          // p-retry calls this even for errors shouldRetry refused; only wait before a retry that will happen.
          if (!(err instanceof AttemptFailure) || !err.retryable || err.retriesLeft <= 0) return;
          // p-retry's own backoff (BACKOFF_BASE_MS * 2^n * random 1..2) follows and serves as the jitter.
          if (err.waitMs !== undefined && err.waitMs > BACKOFF_BASE_MS) {
            await sleep(err.waitMs - BACKOFF_BASE_MS, undefined, { signal: closing.signal });
          }
        },
      });
    } catch (err) {
      if (err instanceof AttemptFailure) throw err.error;
      if (closing.signal.aborted) throw markNotSent(closedError());
      throw err;
    }
  }

  return {
    submit(aiEditRequest) {
      return run({
        kind: 'submit',
        method: 'POST',
        path: '/v1/image/ai-edit',
        body: JSON.stringify(toClaidRequestBody(aiEditRequest)),
      });
    },
    getTask(upstreamId) {
      if (!Number.isSafeInteger(upstreamId) || upstreamId < 0) {
        return Promise.reject(new RangeError(`not a Claid task id: ${upstreamId}`));
      }
      return run({ kind: 'read', method: 'GET', path: `/v1/image/ai-edit/${upstreamId}`, upstreamId });
    },
    async close() {
      if (closing.signal.aborted) return;
      closing.abort();
      await agent.close();
    },
  };
}
