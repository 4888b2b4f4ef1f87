import { decodeGlobalID, type ResolveCursorConnectionArgs, resolveCursorConnection } from '@pothos/plugin-relay';
import { type GraphQLSchema, isObjectType } from 'graphql';
import { BadUserInputError, ErrorCode, GatewayError } from '../domain/errors.js';
import type { Job, JobStatus } from '../domain/job.js';
import { boundedMemo } from '../lib/bounded-memo.js';
import type { JobCursor } from '../services/store/job-store.js';
import type { WebhookInput } from '../services/webhooks/caller-webhooks.js';
import type { ResolverContext } from './resolver-context.js';

// Small typed functions the schema calls: unpack arguments, call a service, shape the answer.

export const AI_EDIT_JOB_TYPENAME = 'AiEditJob';
const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;

/** Decoded global ids, frozen (shared by every request that sends the id): base64 and its check cost more than a look-up. */
const decodedGlobalId = boundedMemo((globalId: string): Readonly<{ typename: string; id: string }> | null => {
  try {
    const decoded = decodeGlobalID(globalId);
    return decoded.typename && decoded.id ? Object.freeze(decoded) : null;
  } catch {
    return null;
  }
});

/** The relay plugin's encoding (base64 of `typename:id`), remembered: every answer about a job encodes its id. */
const encodedGlobalId = boundedMemo((typeAndId: string) => Buffer.from(typeAndId).toString('base64'));

export function encodeGlobalId(typename: string, id: bigint | number | string): string {
  return encodedGlobalId(`${typename}:${id}`);
}

/** A global id's type and id; a malformed one is the caller's error (BAD_USER_INPUT naming `field`). */
export function parseGlobalId(globalId: string, field = 'id'): { typename: string; id: string } {
  const decoded = decodedGlobalId(globalId);
  if (!decoded) throw new BadUserInputError(`${field} is not a valid global id`, field);
  return decoded;
}

/** The job id inside a global id; null for a well-formed id of another type. Malformed ids are the caller's error. */
export function jobIdFromGlobalId(globalId: string, field = 'id'): string | null {
  const decoded = parseGlobalId(globalId, field);
  return decoded.typename === AI_EDIT_JOB_TYPENAME ? decoded.id : null;
}

/**
 * node(id)'s answer, agreeing with aiEditJob: an id of a type that is no Node of this schema is null, as its
 * description says, rather than the relay plugin's "… has not been implemented" error.
 */
export function resolveNodeOfKnownType<T>(
  id: { typename: string; id: string },
  schema: GraphQLSchema,
  resolveNode: (id: { typename: string; id: string }) => T,
): T | null {
  const type = schema.getType(id.typename);
  const isNode = isObjectType(type) && type.getInterfaces().some((each) => each.name === 'Node');
  return isNode ? resolveNode(id) : null;
}

export async function submitAiEdit(
  ctx: ResolverContext,
  input: {
    input: string;
    output?: object | null;
    options: object;
    idempotencyKey?: string | null;
    clientMutationId?: string | null;
    webhook?: WebhookInput | null;
  },
): Promise<Job> {
  const { idempotencyKey, clientMutationId: _echoedByThePayload, webhook: rawWebhook, ...request } = input;
  const webhook = await ctx.services.webhooks.prepare(ctx.owner, rawWebhook);
  return ctx.services.jobs.submit({ owner: ctx.owner, request, idempotencyKey, webhook });
}

/** An estimate only: null for a final job or before enough jobs of its kind have finished. */
export const estimatedFinishAt = (ctx: ResolverContext, job: Job): Date | null => ctx.services.estimatedFinishAt(job);

/** Null unless the job waits in the submit queue. */
export const queuePosition = (ctx: ResolverContext, job: Job): Promise<number | null> =>
  ctx.services.jobs.queuePosition(job);

export async function loadAiEditJobs(ctx: ResolverContext, ids: readonly string[]): Promise<(Job | null)[]> {
  const jobs = await ctx.services.jobs.loadJobs(ctx.owner, ids);
  ctx.readTracker?.jobsRead(jobs);
  return jobs;
}

interface ConnectionArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
  status?: readonly JobStatus[] | null;
}

export function listAiEditJobs(ctx: ResolverContext, args: ConnectionArgs) {
  // A page changes whenever a job is submitted or moves: never kept by the read cache.
  ctx.readTracker?.uncacheable();
  for (const name of ['first', 'last'] as const) {
    const size = args[name];
    if (size != null && (size < 0 || size > MAX_PAGE_SIZE)) {
      throw new BadUserInputError(`${name} must be from 0 to ${MAX_PAGE_SIZE}`, name);
    }
  }
  const after = args.after ? decodeJobCursor(args.after, 'after') : undefined;
  const before = args.before ? decodeJobCursor(args.before, 'before') : undefined;
  return resolveCursorConnection(
    { args, toCursor: encodeJobCursor, defaultSize: DEFAULT_PAGE_SIZE, maxSize: MAX_PAGE_SIZE },
    async ({ limit, inverted }: ResolveCursorConnectionArgs) => {
      const page = await ctx.services.jobs.listJobs({
        owner: ctx.owner,
        statuses: args.status ?? undefined,
        after,
        before,
        limit,
        fromEnd: inverted,
      });
      // resolveCursorConnection expects an inverted page to start next to `before`; the store returns newest first.
      return inverted ? page.jobs.reverse() : page.jobs;
    },
  );
}

export function encodeJobCursor(job: Job): string {
  return Buffer.from(`${job.createdAt.getTime()}:${job.id}`).toString('base64url');
}

export function decodeJobCursor(cursor: string, field: string): JobCursor {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,16}):([0-9a-f-]{36})$/.exec(decoded);
  if (!match) throw new BadUserInputError(`${field} is not a cursor this connection gave out`, field);
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}

/** The live updates of one of the caller's jobs; an unknown id (or another owner's job) is NOT_FOUND. */
export async function watchAiEditJob(ctx: ResolverContext, globalId: string): Promise<AsyncGenerator<Job>> {
  const jobId = jobIdFromGlobalId(globalId);
  if (!jobId) throw new GatewayError(ErrorCode.NOT_FOUND, 'No job with this id.', { field: 'id' });
  // Its subscription slot is taken per subscriber by the transport (SharedSubscriptions.joinAs), not here: this runs
  // once for all the subscribers that share the execution.
  return ctx.services.jobUpdates(ctx.owner, jobId);
}

/** At most this many ids in one aiEditJobsUpdated: a page of aiEditJobs. */
export const MAX_WATCHED_IDS = MAX_PAGE_SIZE;

/**
 * The live changes of many of the caller's jobs (all, or the given ids), optionally only into some statuses.
 * Malformed ids are BAD_USER_INPUT; unknown ones, or another owner's, NOT_FOUND (raised by the service).
 */
export function watchAiEditJobs(
  ctx: ResolverContext,
  args: { ids?: readonly string[] | null; status?: readonly JobStatus[] | null },
): Promise<AsyncGenerator<Job>> {
  let jobIds: string[] | undefined;
  if (args.ids) {
    if (args.ids.length > MAX_WATCHED_IDS) throw new BadUserInputError(`ids takes at most ${MAX_WATCHED_IDS}`, 'ids');
    jobIds = args.ids.map((id, index) => {
      const jobId = jobIdFromGlobalId(id, `ids.${index}`);
      if (!jobId) throw new GatewayError(ErrorCode.NOT_FOUND, 'No job with this id.', { field: `ids.${index}` });
      return jobId;
    });
  }
  return ctx.services.jobsUpdates(ctx.owner, {
    ...(jobIds ? { jobIds } : {}),
    ...(args.status ? { statuses: args.status } : {}),
  });
}
