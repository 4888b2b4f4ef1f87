import { useEffect, useState } from 'preact/hooks';
import { formatTime, type JobView, relative } from '../job-view.js';
import { OutputImages } from './output-images.js';

// The job being watched: its statuses as the gateway saw them, with times; while it runs, its place in the queue and
// the estimated finish when the API has them; its images once DONE, its errors once ERROR.

export function JobPanel({ job }: { job: JobView }) {
  const now = useNow(!job.isFinal);
  const first = job.history[0] ? Date.parse(job.history[0].at) : Date.parse(job.createdAt);
  return (
    <section class="job-panel" aria-labelledby="job-title" data-job-id={job.id} data-status={job.status}>
      <h2 id="job-title">
        Job <span class={`status status-${job.status}`}>{job.status}</span>
      </h2>
      <p class="prompt-echo">“{job.request.options.prompt}”</p>
      <ol class="timeline" aria-label="Status timeline" aria-live="polite">
        {job.history.map((change) => (
          <li key={`${change.status}-${change.at}`} data-status={change.status}>
            <span class={`dot status-${change.status}`} aria-hidden="true" />
            <span class="timeline-status">{change.status}</span>
            <time dateTime={change.at}>{formatTime(change.at)}</time>
            <span class="elapsed">+{((Date.parse(change.at) - first) / 1000).toFixed(1)} s</span>
          </li>
        ))}
      </ol>
      {!job.isFinal ? (
        <p class="progress" aria-live="polite">
          {typeof job.queuePosition === 'number' ? (
            <span class="queue-position">Position in queue: {job.queuePosition}. </span>
          ) : null}
          {job.estimatedFinishAt ? (
            <span class="estimate">
              Estimated finish {formatTime(job.estimatedFinishAt)} ({relative(job.estimatedFinishAt, now)}).
            </span>
          ) : (
            <span class="estimate">Working…</span>
          )}
        </p>
      ) : null}
      {job.errors.length > 0 ? (
        <ul class="job-errors" role="alert">
          {job.errors.map((error) => (
            <li key={error.createdAt + error.message}>
              {error.code ? <code>{error.code}</code> : null} {error.message}
            </li>
          ))}
        </ul>
      ) : null}
      {job.result ? <OutputImages images={job.result.outputObjects} now={now} /> : null}
    </section>
  );
}

/** The time, ticking each second while `live`: estimates and expiries are shown relative to it. */
export function useNow(live: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    setNow(Date.now());
    if (!live) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [live]);
  return now;
}
