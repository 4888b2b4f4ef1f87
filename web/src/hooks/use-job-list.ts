import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type AiEditJobStatus, ListAiEditJobViewsDocument } from '../../../client/gql/graphql.js';
import type { ApiError } from '../api/errors.js';
import { execute } from '../api/graphql.js';
import { type JobView, newer } from '../job-view.js';

// The list of the caller's jobs: pages from aiEditJobs (newest first) for the chosen statuses, and every change the
// live feed brings merged in: a job it does not hold yet is new, and goes first if the filter takes it.

const PAGE_SIZE = 10;

export interface JobList {
  jobs: JobView[];
  statuses: AiEditJobStatus[];
  setStatuses: (statuses: AiEditJobStatus[]) => void;
  hasMore: boolean;
  more: () => void;
  loading: boolean;
  error: ApiError | undefined;
  /** A job's newest state, from the feed, a query or a submit; the same function for the list's whole life. */
  apply: (job: JobView) => void;
  /** Loads the first page again (after the feed was down and may have missed changes). */
  reload: () => void;
}

export function useJobList(apiKey: string): JobList {
  const [jobs, setJobs] = useState<JobView[]>([]);
  const [statuses, setStatuses] = useState<AiEditJobStatus[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError>();
  // Read by `apply` without making it change: the feed that calls it is opened once, not per filter.
  const statusesRef = useRef(statuses);
  statusesRef.current = statuses;
  const hasMoreRef = useRef(hasMore);
  hasMoreRef.current = hasMore;

  const load = useCallback(
    async (after: string | null) => {
      setLoading(true);
      try {
        const { aiEditJobs } = await execute(
          ListAiEditJobViewsDocument,
          { first: PAGE_SIZE, after, status: statuses.length > 0 ? statuses : null },
          apiKey,
        );
        const page = aiEditJobs.edges.map((edge) => edge.node);
        setJobs((current) =>
          after === null ? page : [...current, ...page.filter((j) => !current.some((c) => c.id === j.id))],
        );
        setCursor(aiEditJobs.pageInfo.endCursor ?? null);
        setHasMore(aiEditJobs.pageInfo.hasNextPage);
        setError(undefined);
      } catch (caught) {
        setError(caught as ApiError);
      } finally {
        setLoading(false);
      }
    },
    [apiKey, statuses],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  const apply = useCallback(
    (job: JobView) =>
      setJobs((current) => {
        const index = current.findIndex((j) => j.id === job.id);
        if (index >= 0) return current.map((j, i) => (i === index ? newer(j, job) : j));
        const wanted = statusesRef.current;
        if (wanted.length > 0 && !wanted.includes(job.status)) return current;
        // Newest first, as the pages are; a job older than the last one loaded belongs to a page not loaded yet.
        const at = current.findIndex((j) => Date.parse(j.createdAt) < Date.parse(job.createdAt));
        if (at === -1) return hasMoreRef.current ? current : [...current, job];
        return [...current.slice(0, at), job, ...current.slice(at)];
      }),
    [],
  );

  return {
    jobs,
    statuses,
    setStatuses,
    hasMore,
    more: () => void load(cursor),
    loading,
    error,
    apply,
    reload: () => void load(null),
  };
}
