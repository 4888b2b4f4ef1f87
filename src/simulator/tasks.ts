import type { Logger } from 'pino';
import type { JobStatus } from '../domain/job.js';
import {
  inspectInput,
  megapixels,
  OUTPUT_FORMATS,
  outputSize,
  renderOutputs,
  UnsupportedImageError,
  type WireImageObject,
} from './images.js';
import type { SimTask, TaskStore, WireOutputObject } from './task-store.js';
import type { Steps } from './task-timeline.js';

// One simulated AI Edit task: the input is downloaded and the outputs rendered in the background from submit on;
// the reported status is a walk over elapsed time (task-timeline.ts) that never runs ahead of the real work.

export type { SimTask } from './task-store.js';

export const DOWNLOAD_TIMEOUT_MS = 15_000;
export const DOWNLOAD_MAX_BYTES = 25 * 1024 * 1024;

/** A failure Claid would report in the task's `errors`. */
export class TaskFailure extends Error {
  override name = 'TaskFailure';
}

/** Claid's timestamp shape: microseconds and an explicit offset, e.g. 2025-03-13T11:37:09.160000+00:00. */
export const claidTimestamp = (d: Date): string => d.toISOString().replace(/Z$/, '000+00:00');

const WALK: readonly JobStatus[] = ['ACCEPTED', 'WAITING', 'PROCESSING', 'DONE'];
const RANK: Partial<Record<JobStatus, number>> = { ACCEPTED: 0, WAITING: 1, PROCESSING: 2, DONE: 3, ERROR: 3 };

/** The task's status at `now`, its walk reaching WAITING, PROCESSING and DONE at `steps` (task-timeline.ts). */
export function currentStatus(task: SimTask, steps: Steps, now = Date.now()): JobStatus {
  const elapsed = now - task.createdAt.getTime();
  const step = steps.filter((at) => elapsed >= at).length;
  let status: JobStatus = WALK[step]!;
  // A failed download or decode shows once the walk reaches processing, as Claid reports it.
  if (task.generation === 'failed' && (RANK[status] ?? 0) >= 2) status = 'ERROR';
  else if (status === 'DONE' && task.generation !== 'done') status = 'PROCESSING';
  if ((RANK[status] ?? 0) < (RANK[task.reported] ?? 0)) status = task.reported;
  task.reported = status;
  return status;
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return `timed out after ${DOWNLOAD_TIMEOUT_MS / 1000} s`;
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return cause.code;
    if (cause && typeof cause.message === 'string') return cause.message;
    return err.message;
  }
  return String(err);
}

const shortUrl = (url: string): string => (url.length > 200 ? `${url.slice(0, 197)}...` : url);

export async function downloadInput(url: string, signal: AbortSignal): Promise<Buffer> {
  const parsed = new URL(url);
  if (parsed.protocol === 'storage:') {
    throw new TaskFailure(
      `Storage '${parsed.hostname}' is not connected to your account; connect it in the Claid dashboard or use a public URL`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TaskFailure(
      `Unsupported input URL scheme '${parsed.protocol.replace(/:$/, '')}'; use an http(s) URL or storage://`,
    );
  }
  const where = shortUrl(url);
  try {
    const response = await fetch(url, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS)]),
      redirect: 'follow',
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new TaskFailure(`Could not download the input image from ${where}: HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > DOWNLOAD_MAX_BYTES) {
      await response.body?.cancel().catch(() => undefined);
      throw new TaskFailure(`The input image at ${where} is larger than ${DOWNLOAD_MAX_BYTES / 1024 / 1024} MB`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = response.body?.getReader();
    for (let part = await reader?.read(); part && !part.done; part = await reader?.read()) {
      size += part.value.byteLength;
      if (size > DOWNLOAD_MAX_BYTES) {
        await reader?.cancel().catch(() => undefined);
        throw new TaskFailure(`The input image at ${where} is larger than ${DOWNLOAD_MAX_BYTES / 1024 / 1024} MB`);
      }
      chunks.push(part.value);
    }
    return Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof TaskFailure) throw err;
    throw new TaskFailure(`Could not download the input image from ${where}: ${describeFetchError(err)}`);
  }
}

/** Where output `index` is said to be stored: Claid's temporary bucket, or the requested destination. */
export function outputLocation(
  taskId: number,
  index: number,
  count: number,
  ext: string,
  destination: string | undefined,
): Pick<WireOutputObject, 'object_key' | 'object_bucket' | 'object_uri' | 'claid_storage_uri'> {
  if (!destination) {
    const key = `ai-edit/${taskId}/${index}.${ext}`;
    return {
      object_key: key,
      object_bucket: 'claid-simulator-tmp',
      object_uri: `gs://claid-simulator-tmp/${key}`,
      claid_storage_uri: `storage://claid-tmp/${key}`,
    };
  }
  const url = new URL(destination);
  const path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  let key: string;
  if (path === '' || path.endsWith('/')) key = `${path}${taskId}_${index}.${ext}`;
  else {
    const stem = path.replace(/\.[^./]*$/, '');
    key = count > 1 ? `${stem}_${index}.${ext}` : `${stem}.${ext}`;
  }
  const uri = `${url.protocol}//${url.host}/${key}`;
  return { object_key: key, object_bucket: url.hostname, object_uri: uri, claid_storage_uri: uri };
}

export interface TaskRunnerDeps {
  baseUrl: string;
  store: TaskStore;
  /** Aborted when the simulator stops: the run ends without an outcome, and runs again on the next start. */
  signal: AbortSignal;
  logger: Logger;
}

/** Downloads, inspects and renders; never rejects (the outcome is recorded in the store). */
export async function runTask(task: SimTask, deps: TaskRunnerDeps): Promise<void> {
  const { params } = task;
  try {
    const input = await downloadInput(params.input, deps.signal);
    let inputObject: WireImageObject;
    try {
      inputObject = await inspectInput(input);
    } catch (err) {
      if (err instanceof UnsupportedImageError) throw new TaskFailure(`Invalid input image: ${err.message}`);
      throw err;
    }
    const size = outputSize(params.model, params.aspectRatio, inputObject);
    let rendered: Buffer[];
    try {
      rendered = await renderOutputs({
        input,
        ...size,
        prompt: params.prompt,
        model: params.model,
        count: params.numberOfImages,
        format: params.format,
      });
    } catch (err) {
      throw new TaskFailure(
        `Invalid input image: it could not be decoded (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
      );
    }
    const fmt = OUTPUT_FORMATS[params.format];
    if (deps.signal.aborted) return;
    const outputObjects = rendered.map((body, index): WireOutputObject => {
      deps.store.putOutput(task.id, `${index}.${fmt.ext}`, { body, mime: fmt.mime });
      return {
        ext: fmt.ext,
        mps: megapixels(size.width, size.height),
        mime: fmt.mime,
        format: fmt.format,
        width: size.width,
        height: size.height,
        tmp_url: `${deps.baseUrl}/outputs/${task.id}/${index}.${fmt.ext}`,
        ...outputLocation(task.id, index, rendered.length, fmt.ext, params.destination),
      };
    });
    deps.store.finish(task.id, {
      generation: 'done',
      failure: undefined,
      result: { input_object: inputObject, output_objects: outputObjects },
    });
    deps.logger.debug({ taskId: task.id, outputs: outputObjects.length }, 'simulator task rendered');
  } catch (err) {
    // Stopped mid-run (the download aborted): no outcome, so that the next start runs the task again.
    if (deps.signal.aborted) return;
    const message =
      err instanceof TaskFailure ? err.message : `Internal error while processing the image: ${String(err)}`;
    deps.store.finish(task.id, { generation: 'failed', failure: { message, at: new Date() }, result: undefined });
    deps.logger.debug({ taskId: task.id, error: message }, 'simulator task failed');
  }
}
