import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Injection } from './control.js';
import type { ValidationIssue } from './validation.js';

// How the simulator answers: Claid's JSON envelopes and error bodies, the failures a test injects, files.

/** error_code values the simulator uses (Claid documents only 2001, for rate limiting). */
export const SIMULATOR_ERROR_CODES = {
  auth: '1001',
  validation: '1002',
  notFound: '1003',
  payloadTooLarge: '1004',
  rateLimited: '2001',
  internal: '5000',
} as const;

export const MAX_BODY_BYTES = 1024 * 1024;
export type Json = Record<string, unknown>;

export const errorDetails = (code: string, type: string, message: string, details: Json = {}): Json => ({
  error_code: code,
  error_type: type,
  error_message: message,
  error_details: details,
});

function injectedError(status: number): Json {
  if (status === 429)
    return errorDetails(SIMULATOR_ERROR_CODES.rateLimited, 'general', 'Too Many Requests. Rate limit exceeded.');
  const type =
    status === 401 || status === 403 ? 'auth' : status === 402 ? 'billing' : status === 422 ? 'validation' : 'general';
  const message =
    status === 402 ? 'No API calls left.' : `${STATUS_CODES[status] ?? 'Error'} (injected by the simulator)`;
  return errorDetails(String(status), type, message);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

export const sendNotFound = (res: ServerResponse): void => sendJson(res, 404, { detail: 'Not Found' });

export function sendInjected(res: ServerResponse, injection: Extract<Injection, { kind: 'fail' }>): void {
  const { status, body } = injection;
  let text = '';
  let type: string | undefined = 'application/json';
  switch (body) {
    case 'json':
      text = JSON.stringify(injectedError(status));
      break;
    case 'detail':
      text = JSON.stringify({ detail: injectedError(status) });
      break;
    case 'validation':
      text = JSON.stringify({ detail: [{ loc: ['body'], msg: 'injected validation failure', type: 'value_error' }] });
      break;
    case 'html': {
      const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
      text = `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center><hr><center>nginx</center></body></html>\n`;
      type = 'text/html; charset=utf-8';
      break;
    }
    case 'empty':
      type = undefined;
      break;
  }
  if (type) res.setHeader('Content-Type', type);
  if (status === 429) {
    res.setHeader('RateLimit-Remaining', '-1');
    res.setHeader('RateLimit-Reset', '1');
  }
  // Headers given in the spec win (setHeader is case-insensitive), except the body's length.
  for (const [name, value] of Object.entries(injection.headers)) res.setHeader(name, value);
  res.setHeader('Content-Length', String(Buffer.byteLength(text)));
  res.writeHead(status);
  res.end(text);
}

export async function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function validationFailure(issues: ValidationIssue[]): Json {
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.loc.slice(1).join('.') || 'body'}: ${i.msg}`)
    .join('; ');
  return errorDetails(SIMULATOR_ERROR_CODES.validation, 'validation', `Request validation failed: ${summary}`, {
    errors: issues,
  });
}

export function sendFile(req: IncomingMessage, res: ServerResponse, body: Buffer, mime: string): void {
  res.writeHead(200, {
    'Content-Type': mime,
    'Content-Length': String(body.length),
    'Cache-Control': 'private, max-age=86400',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
