import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { AiEditJobViewsUpdatedDocument, ReadAiEditJobViewDocument } from '../../client/gql/graphql.js';
import { storeApiKey, storedApiKey } from './api/api-key.js';
import { ApiError } from './api/errors.js';
import { execute } from './api/graphql.js';
import { type FeedState, openLiveFeed } from './api/live-feed.js';
import { type SubmitStep, submitEdit } from './api/submit-edit.js';
import { ApiErrorMessage } from './components/api-error.js';
import { ApiKeyField } from './components/api-key-field.js';
import { EditForm } from './components/edit-form.js';
import { JobList } from './components/job-list.js';
import { JobPanel } from './components/job-panel.js';
import { type EditFormValues, type FieldErrors, INITIAL_VALUES, validateEditForm } from './form/edit-form.js';
import { useJobList } from './hooks/use-job-list.js';
import { type JobView, newer } from './job-view.js';

// The page: the form, the job being watched and the list of the caller's jobs. One subscription
// (aiEditJobsUpdated, every change of the caller's jobs) keeps both the watched job and the list current.

/** Fields the form shows an error beside; an API error naming another field shows above the submit button. */
const FORM_FIELDS = new Set([
  'input.input',
  'file',
  'input.options.prompt',
  'input.options.aspectRatio',
  'input.options.inferenceSteps',
  'input.options.guidanceScale',
  'input.output.numberOfImages',
]);

export function App() {
  const [apiKey, setApiKey] = useState(storedApiKey);
  const [values, setValues] = useState<EditFormValues>(INITIAL_VALUES);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [submitError, setSubmitError] = useState<ApiError>();
  const [busy, setBusy] = useState<SubmitStep>();
  const [watched, setWatched] = useState<JobView>();
  const [feed, setFeed] = useState<FeedState>('connecting');
  const [feedError, setFeedError] = useState<ApiError>();
  const list = useJobList(apiKey);
  const { apply: applyToList } = list;
  // After a drop the feed may have missed changes: read again what the page shows once it is back.
  const wasLive = useRef(false);
  const catchUp = useRef(() => undefined as void);
  catchUp.current = () => {
    list.reload();
    if (watched) void watch(watched.id).catch(() => undefined);
  };
  const onFeedState = useCallback((state: FeedState) => {
    setFeed(state);
    if (state !== 'live') return;
    if (wasLive.current) catchUp.current();
    wasLive.current = true;
  }, []);

  const applyJob = useCallback(
    (job: JobView) => {
      setWatched((current) => (current?.id === job.id ? newer(current, job) : current));
      applyToList(job);
    },
    [applyToList],
  );

  useEffect(() => {
    setFeedError(undefined);
    wasLive.current = false;
    const live = openLiveFeed({
      document: AiEditJobViewsUpdatedDocument,
      variables: {},
      apiKey,
      onData: (data) => applyJob(data.aiEditJobsUpdated),
      onError: setFeedError,
      onState: onFeedState,
    });
    return () => live.close();
  }, [apiKey, applyJob, onFeedState]);

  const watch = async (id: string) => {
    const { aiEditJob } = await execute(ReadAiEditJobViewDocument, { id }, apiKey);
    if (!aiEditJob) return;
    setWatched((current) => (current?.id === id ? newer(current, aiEditJob) : aiEditJob));
    applyToList(aiEditJob);
  };

  const submit = async () => {
    const problems = validateEditForm(values);
    setFieldErrors(problems);
    setSubmitError(undefined);
    if (Object.keys(problems).length > 0) return;
    try {
      const { jobId } = await submitEdit(values, apiKey, setBusy);
      await watch(jobId);
    } catch (caught) {
      const error = caught instanceof ApiError ? caught : new ApiError(String(caught), undefined, {});
      const fields = Object.fromEntries(error.fieldProblems.map((p) => [p.field, p.message]));
      setFieldErrors(fields);
      if (!Object.keys(fields).some((field) => FORM_FIELDS.has(field))) setSubmitError(error);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <header class="top">
        <h1>
          AI Edit <span>through the GraphQL gateway</span>
        </h1>
        <nav>
          <a href="/graphql">GraphiQL</a>
        </nav>
        <ApiKeyField
          value={apiKey}
          onChange={(key) => {
            storeApiKey(key);
            setApiKey(key);
          }}
        />
      </header>
      <main>
        <div class="workspace">
          <EditForm
            values={values}
            onChange={setValues}
            onSubmit={() => void submit()}
            busy={busy}
            fieldErrors={fieldErrors}
            error={submitError}
          />
          {watched ? (
            <JobPanel job={watched} />
          ) : (
            <section class="job-panel placeholder" aria-label="Job">
              <p>Pick an image, say what to change, and the job’s progress shows here live.</p>
            </section>
          )}
        </div>
        <ApiErrorMessage error={list.error ?? feedError} />
        <JobList
          jobs={list.jobs}
          statuses={list.statuses}
          onStatuses={list.setStatuses}
          hasMore={list.hasMore}
          onMore={list.more}
          loading={list.loading}
          selected={watched?.id}
          onSelect={(id) => void watch(id).catch((error: unknown) => setSubmitError(error as ApiError))}
          feed={feed}
        />
      </main>
    </>
  );
}
