import { type ExecutionResult, getOperationAST, Kind, type OperationDefinitionNode } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { FinalReadTracker, replayableHeaders } from './final-read-cache.js';

// Tells a request's FinalReadTracker (put on the server context by the read cache) whether its answer may be kept,
// from the execution itself: a single query whose every root field is a job by id (or __typename), run for the
// caller the key was made for, answered 200 as one JSON body with no errors, every job it read non-null and final
// (the resolvers report the jobs they load: src/resolvers/ai-edit-jobs.ts).

/** Root fields whose answer is jobs by id, each reported to the tracker by loadAiEditJobs. */
const JOB_ROOT_FIELDS = new Set(['aiEditJob', 'node']);

const JSON_TYPES = ['application/json', 'application/graphql-response+json'];

function trackerOf(context: unknown): FinalReadTracker | undefined {
  const tracker = (context as { readTracker?: unknown } | undefined)?.readTracker;
  return tracker instanceof FinalReadTracker ? tracker : undefined;
}

/** The response keys of the root fields, or undefined when any root selection is not a plain job-by-id field. */
function jobRootFields(operation: OperationDefinitionNode): { key: string; job: boolean }[] | undefined {
  const fields: { key: string; job: boolean }[] = [];
  for (const selection of operation.selectionSet.selections) {
    // Fragments and @skip/@include at the root would make the answer's shape harder to check: not kept.
    if (selection.kind !== Kind.FIELD || selection.directives?.length) return undefined;
    const name = selection.name.value;
    if (name !== '__typename' && !JOB_ROOT_FIELDS.has(name)) return undefined;
    fields.push({ key: selection.alias?.value ?? name, job: name !== '__typename' });
  }
  return fields;
}

/** No errors, and every root field answered with a job, none null. */
function answersEveryField(result: ExecutionResult, fields: readonly { key: string; job: boolean }[]): boolean {
  if (result.errors?.length || !result.data || 'hasNext' in result) return false;
  const data = result.data as Record<string, unknown>;
  return fields.every(({ key, job }) => {
    const value = data[key];
    if (value === null || value === undefined) return false;
    return !job || typeof value === 'object';
  });
}

export function useFinalReadCache(): Plugin {
  return {
    onExecute({ args }) {
      const tracker = trackerOf(args.contextValue);
      if (!tracker) return;
      tracker.executionStarted((args.contextValue as { owner?: unknown }).owner);
      const operation = getOperationAST(args.document, args.operationName ?? undefined);
      const fields = operation?.operation === 'query' ? jobRootFields(operation) : undefined;
      if (!fields) {
        tracker.uncacheable();
        return;
      }
      return {
        onExecuteDone({ result }) {
          if (isAsyncIterable(result) || !answersEveryField(result, fields)) tracker.uncacheable();
          else tracker.executionCacheable();
        },
      };
    },
    async onResponse({ response, serverContext, setResponse, fetchAPI }) {
      const tracker = trackerOf(serverContext);
      if (!tracker?.cacheable) return;
      const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (response.status !== 200 || !JSON_TYPES.includes(type)) {
        tracker.uncacheable();
        return;
      }
      // Yoga's CORS headers are already on the response (its plugins answer before ours).
      const body = Buffer.from(await response.arrayBuffer());
      tracker.keepResponse({
        status: response.status,
        headers: replayableHeaders(response.headers, body.length),
        body,
      });
      setResponse(new fetchAPI.Response(body, { status: response.status, headers: response.headers }));
    },
  };
}
