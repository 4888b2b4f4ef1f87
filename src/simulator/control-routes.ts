import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gate } from './access.js';
import { ControlSpecError, type FailSpec, type HangSpec } from './control.js';
import { errorDetails, type Json, MAX_BODY_BYTES, readBody, SIMULATOR_ERROR_CODES, sendJson } from './http-replies.js';
import type { SimulatorControl, SimulatorStats } from './types.js';

// POST /__control and GET /__control/stats: the test hooks over HTTP, for a simulator in another process.

function refuseUnauthorized(gate: Gate, req: IncomingMessage, res: ServerResponse): boolean {
  if (gate.authorized(req) === 'ok') return false;
  sendJson(
    res,
    401,
    errorDetails(SIMULATOR_ERROR_CODES.auth, 'auth', 'The control endpoint needs the simulator API key.'),
  );
  return true;
}

const badControlRequest = (res: ServerResponse, message: string): void =>
  sendJson(res, 400, errorDetails(SIMULATOR_ERROR_CODES.validation, 'validation', `Bad control request: ${message}`));

function apply(control: SimulatorControl, spec: Json): void {
  switch (spec['action']) {
    case 'fail':
      control.fail(spec as unknown as FailSpec);
      break;
    case 'hang':
      control.hang(spec as HangSpec);
      break;
    case 'reset':
      control.reset();
      break;
    case 'setStepMs':
      control.setStepMs((spec['ms'] ?? spec['stepMs']) as number);
      break;
    default:
      throw new ControlSpecError('action must be one of fail, hang, reset, setStepMs');
  }
}

export async function handleControl(
  gate: Gate,
  control: SimulatorControl,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (refuseUnauthorized(gate, req, res)) return;
  const raw = await readBody(req, MAX_BODY_BYTES);
  let spec: Json;
  try {
    const parsed: unknown = raw === 'too-large' ? undefined : JSON.parse(raw.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new ControlSpecError('body must be a JSON object');
    spec = parsed as Json;
  } catch (err) {
    return badControlRequest(res, (err as Error).message);
  }
  try {
    apply(control, spec);
  } catch (err) {
    if (!(err instanceof ControlSpecError || err instanceof RangeError)) throw err;
    return badControlRequest(res, err.message);
  }
  sendJson(res, 200, { ok: true });
}

export function handleStats(gate: Gate, stats: SimulatorStats, req: IncomingMessage, res: ServerResponse): void {
  if (refuseUnauthorized(gate, req, res)) return;
  sendJson(res, 200, {
    submits: stats.submits,
    reads: stats.reads,
    readsByTask: Object.fromEntries(stats.readsByTask),
    webhooks: stats.webhooks,
    rateLimited: Object.fromEntries(stats.rateLimited),
  });
}
