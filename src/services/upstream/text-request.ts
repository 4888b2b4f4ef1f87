import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

// One HTTP request whose answer is read whole as text, on undici's dispatcher with a handler of our own. undici's
// `request()` hands the body over as a stream (a Readable, its events, a consumer, an AbortSignal's listeners): the
// Claid client's submit against the simulator took 674 µs of CPU a call that way and 464 µs this way once warm, 1,479
// and 1,251 µs over a fresh process's first 200 calls (bench/tools/claid-client-cpu.ts; bench/README.md, "Issue 16 on
// 2026-12-02, morning"). Claid's answers are small JSON documents; nothing here needs them streamed.

export interface TextRequest {
  origin: string;
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | undefined;
  /** Headers and body together: the request is aborted with TextRequestTimeout once it has run this long. */
  timeoutMs: number;
  /** Told of the answer's head as it arrives, so that a body that then fails still has its status known. */
  onHead?: (statusCode: number, headers: IncomingHttpHeaders) => void;
}

export interface TextResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** The error a request ends with when `timeoutMs` ran out first, whether or not it had left the queue. */
export class TextRequestTimeout extends Error {
  override readonly name = 'TextRequestTimeout';
}

/** Sends `request` on `dispatcher` and resolves with its status, headers and body; rejects with undici's error. */
export function requestText(dispatcher: Dispatcher, request: TextRequest): Promise<TextResponse> {
  return new Promise<TextResponse>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    let statusCode = 0;
    let headers: IncomingHttpHeaders = {};
    let chunks: Buffer[] = [];
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    // Made when it happens: an Error captures a stack trace, dear on every call for a rare outcome.
    let timeout: TextRequestTimeout | undefined;
    const timer = setTimeout(() => {
      timeout = new TextRequestTimeout(`no complete answer within ${request.timeoutMs} ms`);
      // A request still waiting for a connection has no controller yet: it fails now and is aborted as it starts.
      controller?.abort(timeout);
      const timedOut = timeout;
      settle(() => reject(timedOut));
    }, request.timeoutMs);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        controller = started;
        if (timeout) started.abort(timeout);
      },
      onResponseStart(_controller, status, responseHeaders) {
        // Called again after a 1xx: the final answer's head is the one kept.
        statusCode = status;
        headers = responseHeaders as IncomingHttpHeaders;
        chunks = [];
        if (status >= 200) request.onHead?.(statusCode, headers);
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        settle(() => resolve({ statusCode, headers, text }));
      },
      onResponseError(_controller, error) {
        settle(() => reject(error));
      },
    };
    try {
      dispatcher.dispatch(
        {
          origin: request.origin,
          path: request.path,
          method: request.method,
          headers: request.headers,
          body: request.body ?? null,
        },
        handler,
      );
    } catch (error) {
      settle(() => reject(error));
    }
  });
}
