import { isFinalStatus, isForwardTransition, type Job, type UpstreamTaskState } from '../../domain/job.js';
import { errorsJson, historyJson, jobFromColumns, resultJson, toMs } from './job-row-codec.js';
import type { GatewayJobError } from './job-store.js';

/** The columns an upstream answer rewrites, encoded as both stores keep them (job-row-codec). */
export interface JobRowChange {
  status: Job['status'];
  errors: string;
  result: string | null;
  history: string;
  updatedAt: number;
  finishedAt: number | null;
}

/**
 * How an upstream answer read at `atMs` changes a stored job, or null when nothing a reader sees changes (then the
 * store moves only lastPolledAt). `sinceMs` is when the job's previous status was last known to hold: its previous
 * read by default; a push passes its own time (exact). A status change records it (StatusChange.since) when it is
 * earlier, so that the duration model can place the change inside (since, at] rather than at the read that saw it. Status moves only forward and a final job never changes; a status change appends
 * to history and, into a final status, sets finishedAt. Errors and result are compared as canonical JSON, so that a
 * re-read answer in another key order is not a change. Pure: both stores call it inside their own transaction.
 */
export function planStatusChange(
  job: Job,
  state: Pick<UpstreamTaskState, 'status' | 'errors' | 'result'>,
  atMs: number,
  sinceMs: number = job.lastPolledAt.getTime(),
): JobRowChange | null {
  if (isFinalStatus(job.status)) return null;
  const statusMoves = state.status !== job.status;
  if (statusMoves && !isForwardTransition(job.status, state.status)) return null;
  const errors = errorsJson(state.errors);
  const result = resultJson(state.result);
  if (!statusMoves && errors === errorsJson(job.errors) && result === resultJson(job.result)) return null;

  const history = job.history.map((change) => ({
    status: change.status,
    at: toMs(change.at),
    ...(change.since ? { since: toMs(change.since) } : {}),
  }));
  if (statusMoves) history.push({ status: state.status, at: atMs, ...(sinceMs < atMs ? { since: sinceMs } : {}) });
  return {
    status: state.status,
    errors,
    result,
    history: historyJson(history),
    updatedAt: atMs,
    finishedAt: statusMoves && isFinalStatus(state.status) ? atMs : null,
  };
}

/**
 * An answer planned against `basis`, the job as its caller saw it (a poll's look, a submit's recorded job), for a
 * store that writes on the condition that the row still holds basis's state. `job` is basis with the answer's task
 * id (a submit's answer teaches it); `change` is null when nothing a reader sees changes.
 */
export function planOnBasis(
  basis: Job,
  state: UpstreamTaskState,
  atMs: number,
  exact: boolean,
): { job: Job; change: JobRowChange | null } {
  const job = basis.upstreamId === null ? { ...basis, upstreamId: state.upstreamId } : basis;
  return { job, change: planStatusChange(job, state, atMs, exact ? atMs : undefined) };
}

/**
 * `basis` as `change` leaves it: what its row reads back as once the change (and the read's time) is written. A store
 * that wrote the change on the condition that the row still held basis's state answers with this instead of a read.
 */
export const jobAfterChange = (basis: Job, change: JobRowChange, atMs: number): Job =>
  jobFromColumns({
    id: basis.id,
    owner: basis.owner,
    upstream_id: basis.upstreamId,
    status: change.status,
    request: basis.request,
    request_hash: basis.requestHash,
    idempotency_key: basis.idempotencyKey,
    errors: JSON.parse(change.errors),
    result: change.result === null ? null : JSON.parse(change.result),
    history: JSON.parse(change.history),
    created_at: toMs(basis.createdAt),
    updated_at: change.updatedAt,
    last_polled_at: atMs,
    finished_at: change.finishedAt,
    send_started_at: null,
  });

/** A change as the columns of a row both stores write. */
export const changedColumns = (change: JobRowChange) => ({
  status: change.status,
  errors: change.errors,
  result: change.result,
  history: change.history,
  updated_at: change.updatedAt,
  finished_at: change.finishedAt,
});

/** The state a job takes when the gateway ends it with an error of its own. */
export const unknownOutcome = (error: GatewayJobError, at: Date) => ({
  status: 'ERROR' as const,
  errors: [{ message: error.message, createdAt: at, code: error.code }],
  result: null,
});
