import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { ErrorCode } from '../../domain/errors.js';

// Request body limits by kind, in place of Yoga's one maxRequestBodySize: a JSON (or other) body is refused past
// MAX_BODY_BYTES, a multipart upload past MAX_UPLOAD_BYTES for its file plus MAX_BODY_BYTES for the rest (its
// operations and map). Both are counted while the body streams: the parser stops reading at the limit, so an
// oversized upload is never held whole. A file over MAX_UPLOAD_BYTES is BAD_USER_INPUT naming `file` (what a form
// shows next to its field), answered 413 so that the connection, with the rest of the body unread, is closed.

export interface RequestBodyLimits {
  /** MAX_BODY_BYTES. */
  maxBodyBytes: number;
  /** MAX_UPLOAD_BYTES: one file's bytes in a multipart request. */
  maxUploadBytes: number;
}

const CONTENT_LENGTH = /^\d+$/;
/** The multipart request spec's fields: operations, map, and the one file uploadImage takes. */
const MULTIPART_PARTS = 3;

const tooLarge = () =>
  createGraphQLError('Request body too large', {
    extensions: { http: { status: 413 }, code: ErrorCode.REQUEST_ENTITY_TOO_LARGE },
  });

export function useRequestBodyLimits(limits: RequestBodyLimits): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const multipart = isMultipart(request);
      const limit = multipart ? limits.maxUploadBytes + limits.maxBodyBytes : limits.maxBodyBytes;
      const contentLength = request.headers.get('content-length');
      if (contentLength !== null) {
        if (!CONTENT_LENGTH.test(contentLength)) {
          throw createGraphQLError('Content-Length header is invalid.', {
            extensions: { http: { status: 400 }, code: ErrorCode.BAD_REQUEST },
          });
        }
        if (Number(contentLength) > limit) throw tooLarge();
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((original) => {
        const limited = limitedRequest(original, limit, fetchAPI);
        if (!multipart) return parse(limited);
        return Promise.resolve(parse(withFormDataLimits(limited, limits))).catch((error: unknown) => {
          throw isFileTooLarge(error)
            ? createGraphQLError(`file is larger than ${limits.maxUploadBytes} bytes (MAX_UPLOAD_BYTES)`, {
                extensions: { http: { status: 413 }, code: ErrorCode.BAD_USER_INPUT, field: 'file' },
              })
            : error;
        });
      });
    },
  };
}

const isMultipart = (request: Request): boolean =>
  request.method === 'POST' &&
  (request.headers.get('content-type') ?? '').toLowerCase().includes('multipart/form-data');

/** Yoga's own parser message for busboy's fileSize limit (graphql-yoga's post-multipart.ts). */
const isFileTooLarge = (error: unknown): boolean =>
  error instanceof Error && error.message.startsWith('File size limit exceeded');

/**
 * The request whose formData() hands busboy the limits (@whatwg-node/node-fetch): it stops reading a file part at
 * maxUploadBytes, and other fields at maxBodyBytes.
 */
function withFormDataLimits(request: Request, limits: RequestBodyLimits): Request {
  const formData = (request.formData as (options?: unknown) => Promise<FormData>).bind(request);
  const formDataLimits = {
    fileSize: limits.maxUploadBytes,
    files: 1,
    fieldSize: limits.maxBodyBytes,
    parts: MULTIPART_PARTS,
  };
  return Object.assign(request, { formData: () => formData({ formDataLimits }) });
}

/** `request` with a body that errors once more than `limit` bytes came (a body without Content-Length too). */
function limitedRequest(
  request: Request,
  limit: number,
  fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream },
): Request {
  const body = request.body;
  if (!body) return request;
  // As Yoga does: a native ReadableStream needs the native TransformStream (graphql-yoga issue 4583).
  const Transform = body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  let bytesRead = 0;
  const limited = body.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytesRead += chunk.byteLength;
        if (bytesRead > limit) controller.error(tooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body: limited,
    duplex: 'half',
  } as RequestInit);
}
