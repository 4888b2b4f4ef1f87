import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { isFinalStatus, JOB_STATUSES, type JobStatus } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { JobPollerStats } from '../../services/jobs/job-poller.js';
import type { ApplyResult, JobStore } from '../../services/store/job-store.js';
import type { UpstreamCallObservation } from '../../services/upstream/claid-client.js';
import type { RateBudgetStats } from '../../services/upstream/rate-budget.js';
import type { WebhookResult } from '../../transport/claid-webhook.js';
import type { ReadCacheStats } from '../../transport/final-read-cache.js';
import { queueWaitOf } from './queue-wait.js';

// One Registry per gateway, never prom-client's global one: tests start many gateways in one process. What the
// services already count (budget, poller, read cache, shared subscriptions) is read at scrape time from their stats();
// what they do not (each upstream answer) comes in through an observer. Label values are fixed sets: never a caller,
// a prompt or a URL.

/** What the scrape reads; each a cheap in-memory snapshot. */
export interface MetricSources {
  budget: () => RateBudgetStats;
  poller: () => JobPollerStats;
  readCache: () => ReadCacheStats;
  /** Open subscriptions (members) and shared executions (streams), per transport. */
  subscriptions: () => Record<'websocket' | 'sse', { memberCount: number; streamCount: number }>;
  webSocketConnections: () => number;
}

export interface GatewayMetrics {
  readonly registry: Registry;
  /** For ClaidClientOptions.onCall. */
  onUpstreamCall(call: UpstreamCallObservation): void;
  /** For the instrumented store: a job that just left QUEUED (took its upstream id) has its wait observed. */
  onUpstreamStateApplied(result: ApplyResult): void;
  /** How a Claid notification ended. */
  onWebhook(result: WebhookResult): void;
  /** How a submit ended: accepted, queued, replayed (an idempotency key's earlier job), or the error code sent. */
  onSubmit(outcome: string): void;
  /** Reads the store's unfinished jobs by status now, then every `intervalMs`, until the returned stop. */
  watchJobs(store: Pick<JobStore, 'listUnfinished'>, intervalMs: number, logger: Logger): () => void;
}

const UNFINISHED = JOB_STATUSES.filter((status) => !isFinalStatus(status));

/** Unfinished jobs counted per refresh at most: enough to alert on, bounded in cost. */
const JOB_COUNT_LIMIT = 10_000;

export function createGatewayMetrics(sources: MetricSources): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const upstreamCalls = new Counter({
    name: 'gateway_upstream_calls_total',
    help: 'Upstream (Claid) attempts by endpoint (submit, read) and HTTP status (none: no answer)',
    labelNames: ['endpoint', 'status'],
    registers,
  });
  const upstreamSeconds = new Histogram({
    name: 'gateway_upstream_call_duration_seconds',
    help: 'Upstream attempt latency by endpoint, answered or not',
    labelNames: ['endpoint'],
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });

  const queueWait = new Histogram({
    name: 'gateway_queue_wait_seconds',
    help: 'How long a job was QUEUED (recorded, not yet known to Claid) before it got its upstream id',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const webhooks = new Counter({
    name: 'gateway_webhook_notifications_total',
    help: 'Claid notifications by result (accepted, refused) and reason',
    labelNames: ['result', 'reason'],
    registers,
  });
  const submits = new Counter({
    name: 'gateway_submits_total',
    help: 'Submits by outcome: accepted, queued, replayed (same idempotency key), or the error code sent',
    labelNames: ['outcome'],
    registers,
  });
  totalFrom(
    registry,
    'gateway_budget_pauses_total',
    'Pauses of every upstream grant begun, by reason',
    ['reason'],
    () => Object.entries(sources.budget().pauses).map(([reason, value]) => [{ reason }, value]),
  );

  totalFrom(registry, 'gateway_budget_grants_total', 'Upstream budget grants by class', ['class'], () => {
    const { granted } = sources.budget();
    return Object.entries(granted).map(([kind, value]) => [{ class: kind }, value]);
  });
  totalFrom(registry, 'gateway_upstream_rate_limited_total', '429 answers drawn from Claid', [], () => [
    [{}, sources.budget().rateLimited],
  ]);
  gaugeFrom(registry, 'gateway_budget_queued', 'Upstream calls waiting for budget, by class', ['class'], () =>
    Object.entries(sources.budget().queuedByPriority).map(([kind, value]) => [{ class: kind }, value]),
  );
  gaugeFrom(registry, 'gateway_budget_paused_seconds', 'How much longer upstream grants are paused', [], () => [
    [{}, sources.budget().pausedForMs / 1000],
  ]);
  gaugeFrom(registry, 'gateway_upstream_consecutive_failures', '5xx or network failures in a row', [], () => [
    [{}, sources.budget().consecutiveFailures],
  ]);

  totalFrom(registry, 'gateway_poll_reads_total', 'Upstream status reads the poller started', [], () => [
    [{}, sources.poller().reads],
  ]);
  totalFrom(registry, 'gateway_poll_read_failures_total', 'Poller reads that failed', [], () => [
    [{}, sources.poller().failures],
  ]);
  gaugeFrom(
    registry,
    'gateway_poll_tracked_jobs',
    'Unfinished jobs this process polls, and how many are watched',
    ['watched'],
    () => {
      const { tracked, watched } = sources.poller();
      return [
        [{ watched: 'true' }, watched],
        [{ watched: 'false' }, tracked - watched],
      ];
    },
  );

  totalFrom(
    registry,
    'gateway_read_cache_requests_total',
    'Reads of final jobs, answered from the cache or not',
    ['result'],
    () => {
      const { hits, misses } = sources.readCache();
      return [
        [{ result: 'hit' }, hits],
        [{ result: 'miss' }, misses],
      ];
    },
  );
  gaugeFrom(registry, 'gateway_read_cache_entries', 'Answers held by the read cache', [], () => [
    [{}, sources.readCache().entries],
  ]);
  gaugeFrom(registry, 'gateway_read_cache_bytes', 'Bytes held by the read cache', [], () => [
    [{}, sources.readCache().bytes],
  ]);

  gaugeFrom(registry, 'gateway_subscriptions_open', 'Open subscriptions by transport', ['transport'], () =>
    Object.entries(sources.subscriptions()).map(([transport, { memberCount }]) => [{ transport }, memberCount]),
  );
  gaugeFrom(
    registry,
    'gateway_subscription_streams',
    'Shared subscription executions by transport',
    ['transport'],
    () => Object.entries(sources.subscriptions()).map(([transport, { streamCount }]) => [{ transport }, streamCount]),
  );
  gaugeFrom(registry, 'gateway_websocket_connections', 'Open graphql-ws connections', [], () => [
    [{}, sources.webSocketConnections()],
  ]);

  const jobs = new Gauge({
    name: 'gateway_unfinished_jobs',
    help: `Unfinished jobs in the store by status (refreshed on a timer; at most ${JOB_COUNT_LIMIT} counted)`,
    labelNames: ['status'],
    registers,
  });

  return {
    registry,
    onUpstreamCall({ kind, httpStatus, durationMs }) {
      upstreamCalls.inc({ endpoint: kind, status: httpStatus === null ? 'none' : String(httpStatus) });
      upstreamSeconds.observe({ endpoint: kind }, durationMs / 1000);
    },
    onUpstreamStateApplied(result) {
      const waitedMs = queueWaitOf(result);
      if (waitedMs !== undefined) queueWait.observe(waitedMs / 1000);
    },
    onWebhook({ accepted, reason }) {
      webhooks.inc({ result: accepted ? 'accepted' : 'refused', reason });
    },
    onSubmit(outcome) {
      submits.inc({ outcome });
    },
    watchJobs(store, intervalMs, logger) {
      const refresh = () =>
        store.listUnfinished(JOB_COUNT_LIMIT).then(
          (unfinished) => {
            const counts = new Map<JobStatus, number>();
            for (const job of unfinished) counts.set(job.status, (counts.get(job.status) ?? 0) + 1);
            for (const status of UNFINISHED) jobs.set({ status }, counts.get(status) ?? 0);
          },
          (err: unknown) => logger.warn({ err }, 'could not count unfinished jobs for metrics'),
        );
      void refresh();
      const timer = setInterval(refresh, intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

type Samples = Array<[Record<string, string>, number]>;

function gaugeFrom(registry: Registry, name: string, help: string, labelNames: string[], read: () => Samples): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

/** A counter whose total a service keeps: each scrape adds what it grew by since the last. */
function totalFrom(registry: Registry, name: string, help: string, labelNames: string[], read: () => Samples): void {
  const last = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const grown = value - (last.get(key) ?? 0);
        last.set(key, value);
        if (grown > 0) this.inc(labels, grown);
        else this.inc(labels, 0);
      }
    },
  });
}
