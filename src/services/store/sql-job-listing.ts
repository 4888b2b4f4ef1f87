import { FINAL_STATUSES, type Job } from '../../domain/job.js';
import type { ListJobsPage, ListJobsQuery } from './job-store.js';

// How the SQL stores filter, bound and assemble what they list, so that SQLite and PostgreSQL answer alike.

/** The poller's filter. The jobs_unfinished partial index of both stores has this WHERE, word for word. */
export const UNFINISHED_SQL = `status NOT IN ('DONE', 'ERROR', 'CANCELLED')`;
// Guards UNFINISHED_SQL against a change to the domain's final statuses.
if ([...FINAL_STATUSES].sort().join() !== 'CANCELLED,DONE,ERROR') {
  throw new Error('job store: FINAL_STATUSES changed; update UNFINISHED_SQL and the jobs_unfinished indexes');
}

/**
 * Jobs waiting in the submit queue: recorded, never sent. The jobs_waiting partial index of both stores has this
 * WHERE, word for word. Send order is (created_at, id), oldest first.
 */
export const waitingSql = (table = ''): string => {
  const t = table === '' ? '' : `${table}.`;
  return `${t}status = 'QUEUED' AND ${t}upstream_id IS NULL AND ${t}send_started_at IS NULL`;
};
export const WAITING_SQL = waitingSql();

/** Newest first (createdAt desc, id desc), or oldest first to take the last page from the end. */
export const listingOrder = (fromEnd: boolean | undefined): string =>
  fromEnd ? 'created_at ASC, id ASC' : 'created_at DESC, id DESC';

export function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0)
    throw new RangeError(`job store: limit must be a whole number >= 0, got ${limit}`);
}

/** One job per id, in the order asked for; null where the store had no row. */
export function inIdOrder<Row extends { id: string }>(
  ids: readonly string[],
  rows: readonly Row[],
  toJob: (row: Row) => Job,
): (Job | null)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => {
    const row = byId.get(id);
    return row ? toJob(row) : null;
  });
}

/** A page from rows read with LIMIT query.limit + 1 in listingOrder: the extra row only says that more exist. */
export function toPage<Row>(rows: readonly Row[], query: ListJobsQuery, toJob: (row: Row) => Job): ListJobsPage {
  const page = rows.slice(0, query.limit);
  if (query.fromEnd) page.reverse();
  return { jobs: page.map(toJob), hasMore: rows.length > query.limit };
}
