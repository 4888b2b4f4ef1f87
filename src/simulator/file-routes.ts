import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendFile, sendNotFound } from './http-replies.js';
import { renderSample, SAMPLES, type SampleImage } from './images.js';
import type { TaskStore } from './task-store.js';

// The images the simulator serves: task outputs (the results' tmp_url) and the sample inputs.

export function handleOutput(
  store: TaskStore,
  req: IncomingMessage,
  res: ServerResponse,
  taskId: string,
  file: string,
): void {
  const id = Number(taskId);
  const output = Number.isSafeInteger(id) ? store.getOutput(id, file) : undefined;
  if (output) sendFile(req, res, output.body, output.mime);
  else sendNotFound(res);
}

/** Serves the samples, each rendered once on first use. */
export function createSampleRoute(): (req: IncomingMessage, res: ServerResponse, file: string) => Promise<void> {
  const rendered = new Map<string, Promise<Buffer>>();
  return async (req, res, file) => {
    const sample = SAMPLES.find((s) => s.file === file);
    if (!sample) return sendNotFound(res);
    let pending = rendered.get(sample.file);
    if (!pending) {
      pending = renderSample(sample);
      rendered.set(sample.file, pending);
    }
    sendFile(req, res, await pending, sample.mime);
  };
}

/** The sample named `name` (its file, with or without the extension); throws naming the available ones. */
export function findSample(name: string = SAMPLES[0]!.file): SampleImage {
  const sample = SAMPLES.find((s) => s.file === name || s.file.replace(/\.[^.]+$/, '') === name);
  if (!sample)
    throw new Error(`Unknown simulator sample '${name}'; available: ${SAMPLES.map((s) => s.file).join(', ')}`);
  return sample;
}
