import type { AiEditJobStatus, AiEditJobViewFragment } from '../../client/gql/graphql.js';

// A job as the page holds it: the fragment of client/operations/AiEditJobView.graphql.
export type JobView = AiEditJobViewFragment;

export const JOB_STATUSES: readonly AiEditJobStatus[] = [
  'QUEUED',
  'ACCEPTED',
  'WAITING',
  'PROCESSING',
  'PAUSED',
  'DONE',
  'ERROR',
  'CANCELLED',
];

/** Newer wins: the feed and a query may answer out of order. */
export function newer(current: JobView | undefined, incoming: JobView): JobView {
  if (!current) return incoming;
  if (current.isFinal && !incoming.isFinal) return current;
  return Date.parse(incoming.updatedAt) >= Date.parse(current.updatedAt) ? incoming : current;
}

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export const formatTime = (iso: string): string => time.format(new Date(iso));
export const formatDateTime = (iso: string): string => dateTime.format(new Date(iso));

/** "in 12 s", "in 3 min", "now" (or "12 s ago"), from `now`. */
export function relative(iso: string, now: number): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const abs = Math.abs(seconds);
  const amount = abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : `${Math.round(abs / 3600)} h`;
  if (abs < 1) return 'now';
  return seconds > 0 ? `in ${amount}` : `${amount} ago`;
}
