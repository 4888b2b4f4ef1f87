import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { Agent } from 'undici';
import { UpstreamError } from '../../domain/errors.js';
import type { AiEditRequest, UpstreamTaskState } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import { inSpan, SpanKind, type Tracer } from '../../lib/spans.js';
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
import { requestText, TextRequestTimeout } from './text-request.js';

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
  /** A span per attempt when set (OTEL_EXPORTER_OTLP_ENDPOINT); the path is the template, never the task id. */
  tracer?: Tracer;
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
  const jsonHeaders = { ...headers, 'content-type': 'application/json' };
  // The dispatcher takes an origin and a path: a base URL's own path (a proxy's prefix) goes before each call's.
  const rootUrl = new URL(root);
  const origin = rootUrl.origin;
  const pathPrefix = rootUrl.pathname.replace(/\/+$/, '');

  const scrubbed = keyScrubber(apiKey);
  const closedError = () => connectionError('the Claid client is closed');

  interface Call {
    kind: ClaidOperation;
    method: 'GET' | 'POST';
    path: string;
    /** The path with its task id as `{id}`: what a span or a metric may carry. */
    template: string;
    body?: string;
    upstreamId?: number;
  }

  const serverAddress = rootUrl.hostname;

  function tracedAttempt(call: Call, attemptNumber: number): Promise<UpstreamTaskState> {
    // Without a tracer (the default) the attempt runs bare: no attributes to build, no span wrapper on the submit path.
    if (!options.tracer) return attempt(call, attemptNumber);
    const attributes = {
      'http.request.method': call.method,
      'url.template': call.template,
      'server.address': serverAddress,
      'claid.operation': call.kind,
      'http.request.resend_count': attemptNumber - 1,
    };
    return inSpan(options.tracer, `${call.method} ${call.template}`, { kind: SpanKind.CLIENT, attributes }, (span) =>
      attempt(call, attemptNumber, span && ((name, value) => span.setAttribute(name, value))),
    );
  }

  async function attempt(
    call: Call,
    attemptNumber: number,
    annotate?: (name: string, value: string | number) => void,
  ): Promise<UpstreamTaskState> {
    if (closing.signal.aborted) throw new AttemptFailure(markNotSent(closedError()), false);
    const waitStarted = annotate && performance.now();
    try {
      await budget?.acquire(call.kind);
    } catch (err) {
      // The budget closed or gave up: nothing was sent.
      throw new AttemptFailure(markNotSent(err instanceof UpstreamError ? err : closedError()), false);
    }
    if (waitStarted !== undefined) annotate?.('gateway.budget_wait_ms', Math.round(performance.now() - waitStarted));

    const started = performance.now();
    let httpStatus: number | null = null;
    let responseHeaders: ResponseHeaders = {};
    let bodyText: string | undefined;
    let failure: AttemptFailure | undefined;
    let networkReason: string | undefined;

    try {
      const answer = await requestText(agent, {
        origin,
        path: `${pathPrefix}${call.path}`,
        method: call.method,
        headers: call.body === undefined ? headers : jsonHeaders,
        body: call.body,
        timeoutMs,
        onHead: (status, head) => {
          httpStatus = status;
          responseHeaders = head;
        },
      });
      bodyText = answer.text;
    } catch (err) {
      const timedOut = err instanceof TextRequestTimeout;
      ({ failure, reason: networkReason } = networkFailure(err, call.kind, timedOut, timeoutMs));
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
    if (annotate) {
      if (httpStatus !== null) annotate('http.response.status_code', httpStatus);
      const claidRequestId = requestIdOf(responseHeaders);
      if (claidRequestId !== null) annotate('claid.request_id', claidRequestId);
    }
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
      return await pRetry((n) => tracedAttempt(call, n), {
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
        template: '/v1/image/ai-edit',
        body: JSON.stringify(toClaidRequestBody(aiEditRequest)),
      });
    },
    getTask(upstreamId) {
      if (!Number.isSafeInteger(upstreamId) || upstreamId < 0) {
        return Promise.reject(new RangeError(`not a Claid task id: ${upstreamId}`));
      }
      return run({
        kind: 'read',
        method: 'GET',
        path: `/v1/image/ai-edit/${upstreamId}`,
        template: '/v1/image/ai-edit/{id}',
        upstreamId,
      });
    },
    async close() {
      if (closing.signal.aborted) return;
      closing.abort();
      await agent.close();
    },
  };
}
