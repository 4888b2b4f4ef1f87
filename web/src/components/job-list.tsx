import type { AiEditJobStatus } from '../../../client/gql/graphql.js';
import type { FeedState } from '../api/live-feed.js';
import { formatDateTime, JOB_STATUSES, type JobView } from '../job-view.js';

// The caller's jobs, newest first, a page at a time, filtered by status; kept current by the page's one live feed.

interface Props {
  jobs: readonly JobView[];
  statuses: readonly AiEditJobStatus[];
  onStatuses: (statuses: AiEditJobStatus[]) => void;
  hasMore: boolean;
  onMore: () => void;
  loading: boolean;
  selected: string | undefined;
  onSelect: (id: string) => void;
  feed: FeedState;
}

export function JobList({ jobs, statuses, onStatuses, hasMore, onMore, loading, selected, onSelect, feed }: Props) {
  const toggle = (status: AiEditJobStatus, on: boolean) =>
    onStatuses(on ? [...statuses, status] : statuses.filter((s) => s !== status));
  return (
    <section class="job-list" aria-labelledby="jobs-title">
      <header>
        <h2 id="jobs-title">Your jobs</h2>
        <span class={`feed feed-${feed}`} role="status">
          {feed === 'live' ? 'Live' : feed === 'connecting' ? 'Connecting…' : 'Offline, reconnecting…'}
        </span>
      </header>
      <fieldset class="status-filter">
        <legend>Show only</legend>
        {JOB_STATUSES.map((status) => (
          <label key={status} class="chip">
            <input
              type="checkbox"
              checked={statuses.includes(status)}
              onChange={(event) => toggle(status, event.currentTarget.checked)}
            />
            <span>{status}</span>
          </label>
        ))}
      </fieldset>
      {jobs.length === 0 && !loading ? <p class="empty">No jobs yet.</p> : null}
      <ul class="jobs">
        {jobs.map((job) => (
          <li key={job.id} data-job-id={job.id} data-status={job.status}>
            <button type="button" aria-current={job.id === selected} onClick={() => onSelect(job.id)}>
              <span class={`status status-${job.status}`}>{job.status}</span>
              <span class="job-prompt">{job.request.options.prompt}</span>
              <time dateTime={job.createdAt}>{formatDateTime(job.createdAt)}</time>
            </button>
          </li>
        ))}
      </ul>
      {hasMore ? (
        <button type="button" class="more" onClick={onMore} disabled={loading}>
          {loading ? 'Loading…' : 'Show more'}
        </button>
      ) : null}
    </section>
  );
}
