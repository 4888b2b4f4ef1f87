import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JobStatus } from '../domain/job.js';
import type { Gate } from './access.js';
import {
  errorDetails,
  type Json,
  MAX_BODY_BYTES,
  readBody,
  SIMULATOR_ERROR_CODES,
  sendJson,
  validationFailure,
} from './http-replies.js';
import type { FixedWindowRateLimiter } from './rate-limit.js';
import type { TaskStore } from './task-store.js';
import type { TaskTimeline } from './task-timeline.js';
import { claidTimestamp, currentStatus, type SimTask } from './tasks.js';
import type { SimulatorStats } from './types.js';
import { validateAiEditRequest } from './validation.js';

// Claid's two AI Edit endpoints: submit (POST /v1/image/ai-edit) and status read (GET /v1/image/ai-edit/{id}).

export interface ApiContext {
  gate: Gate;
  /** The generation limit on submits, when enforced. */
  generations: FixedWindowRateLimiter | undefined;
  store: TaskStore;
  stats: SimulatorStats;
  baseUrl(): string;
  timeline: TaskTimeline;
  /** Starts a task's background run. */
  run(task: SimTask): void;
}

async function parseSubmitBody(req: IncomingMessage, res: ServerResponse): Promise<unknown | undefined> {
  const raw = await readBody(req, MAX_BODY_BYTES);
  if (raw === 'too-large') {
    res.setHeader('Connection', 'close');
    sendJson(
      res,
      413,
      errorDetails(
        SIMULATOR_ERROR_CODES.payloadTooLarge,
        'validation',
        `Request body is larger than ${MAX_BODY_BYTES} bytes.`,
      ),
    );
    return undefined;
  }
  if (raw.length === 0) {
    sendJson(res, 422, validationFailure([{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }]));
    return undefined;
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    const msg = `Invalid JSON: ${err instanceof Error ? err.message : String(err)}`;
    sendJson(res, 422, validationFailure([{ loc: ['body'], msg, type: 'value_error.jsondecode' }]));
    return undefined;
  }
}

export async function handleSubmit(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  ctx.stats.submits++;
  if (ctx.gate.inject('submit', res) || !ctx.gate.admit(req, res, 'submit')) return;
  const body = await parseSubmitBody(req, res);
  if (body === undefined) return;
  const outcome = validateAiEditRequest(body);
  if (!outcome.ok) {
    sendJson(res, 422, validationFailure(outcome.issues));
    return;
  }
  const generation = ctx.generations?.take();
  if (generation && !generation.allowed) {
    countRateLimited(ctx.stats, `generation:${generation.refusedBy}`);
    sendJson(
      res,
      429,
      {
        detail: errorDetails(
          SIMULATOR_ERROR_CODES.rateLimited,
          'general',
          'Too Many Requests. Generation limit exceeded.',
        ),
      },
      generation.headers,
    );
    return;
  }
  const task: SimTask = {
    id: ctx.store.allocateId(),
    createdAt: new Date(),
    request: body,
    params: outcome.value,
    generation: 'pending',
    failure: undefined,
    result: undefined,
    reported: 'ACCEPTED',
  };
  ctx.store.insert(task);
  ctx.timeline.planned(task.id);
  ctx.run(task);
  sendJson(res, 200, {
    data: {
      id: task.id,
      status: 'ACCEPTED',
      result_url: `${ctx.baseUrl()}/v1/image/ai-edit/${task.id}`,
      created_at: claidTimestamp(task.createdAt),
      request: task.request,
    },
  });
}

export function handleRead(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, rawId: string): void {
  const { stats } = ctx;
  stats.reads++;
  const isInteger = /^[+-]?\d+$/.test(rawId);
  const id = isInteger ? Number(rawId) : NaN;
  if (isInteger) stats.readsByTask.set(id, (stats.readsByTask.get(id) ?? 0) + 1);
  if (ctx.gate.inject('read', res) || !ctx.gate.admit(req, res, 'read')) return;
  if (!isInteger) {
    sendJson(res, 422, {
      detail: [{ loc: ['path', 'ai_edit_id'], msg: 'value is not a valid integer', type: 'type_error.integer' }],
    });
    return;
  }
  const task = Number.isSafeInteger(id) ? ctx.store.get(id) : undefined;
  if (!task) {
    sendJson(res, 404, errorDetails(SIMULATOR_ERROR_CODES.notFound, 'general', `AI edit task ${rawId} was not found.`));
    return;
  }
  sendJson(res, 200, { data: taskData(task, observedStatus(ctx.store, task, ctx.timeline)) });
}

/** The task's status now, recorded as reported so that reads and webhooks never go back. */
export function observedStatus(store: TaskStore, task: SimTask, timeline: TaskTimeline): JobStatus {
  const before = task.reported;
  const status = currentStatus(task, timeline.steps(task.id));
  if (status !== before) store.report(task.id, status);
  return status;
}

/** A status answer's `data`, which a webhook carries too. */
export function taskData(task: SimTask, status: JobStatus): Json {
  const data: Json = {
    id: task.id,
    status,
    created_at: claidTimestamp(task.createdAt),
    request: task.request,
    errors:
      status === 'ERROR' && task.failure
        ? [{ error: task.failure.message, created_at: claidTimestamp(task.failure.at) }]
        : [],
  };
  // Before DONE the result is null; a failed task has none at all.
  if (status === 'DONE') data['result'] = task.result;
  else if (status !== 'ERROR') data['result'] = null;
  return data;
}

/** Counts one 429 under `key` (`<what>:<window>`). */
export function countRateLimited(stats: SimulatorStats, key: string): void {
  stats.rateLimited.set(key, (stats.rateLimited.get(key) ?? 0) + 1);
}
