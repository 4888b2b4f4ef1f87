import { request as httpRequest } from 'node:http';
import sharp from 'sharp';

// Multipart uploads as a browser's FormData sends them (the GraphQL multipart request spec), over real HTTP.

export const UPLOAD = /* GraphQL */ `
  mutation Upload($file: File!) { uploadImage(file: $file) { url expiresAt contentType byteSize width height } }
`;

/** A real PNG of the given size, made by sharp. */
export function pngOf(width: number, height: number, background = '#3366cc'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background } })
    .png()
    .toBuffer();
}

export interface UploadOptions {
  /** The operation; default UPLOAD (with `variables.file` mapped to the part). */
  operation?: Record<string, unknown>;
  filename?: string;
  type?: string;
  headers?: Record<string, string>;
}

/** POSTs `bytes` as the `file` variable of a multipart request, with the CSRF preflight header unless overridden. */
export async function postUpload(gateway: { url: string }, bytes: Uint8Array, options: UploadOptions = {}) {
  const form = new FormData();
  form.set('operations', JSON.stringify(options.operation ?? { query: UPLOAD, variables: { file: null } }));
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set(
    '0',
    new Blob([new Uint8Array(bytes)], { type: options.type ?? 'image/png' }),
    options.filename ?? 'image.png',
  );
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: {
      accept: 'application/graphql-response+json, application/json',
      'x-graphql-yoga-csrf': '1',
      ...options.headers,
    },
    body: form,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as any };
}

/**
 * Streams a multipart upload of `totalBytes` (a file part that never ends early) with node:http, honouring
 * backpressure, and resolves when the response arrives: with how many bytes had been written by then.
 */
export function streamOversizedUpload(
  gateway: { url: string },
  totalBytes: number,
): Promise<{ status: number; body: string; writtenWhenAnswered: number }> {
  const boundary = `----upload${Date.now()}`;
  const head = Buffer.from(
    [
      `--${boundary}`,
      'Content-Disposition: form-data; name="operations"',
      '',
      JSON.stringify({ query: UPLOAD, variables: { file: null } }),
      `--${boundary}`,
      'Content-Disposition: form-data; name="map"',
      '',
      JSON.stringify({ 0: ['variables.file'] }),
      `--${boundary}`,
      'Content-Disposition: form-data; name="0"; filename="big.png"',
      'Content-Type: image/png',
      '',
      '',
    ].join('\r\n'),
  );
  const chunk = Buffer.alloc(64 * 1024, 7);
  const url = new URL(`${gateway.url}/graphql`);
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'x-graphql-yoga-csrf': '1',
          accept: 'application/json',
          // No Content-Length: chunked, so that only the streamed count can stop it.
        },
      },
      (res) => {
        answered = true;
        const writtenWhenAnswered = written;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => (body += text));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, writtenWhenAnswered }));
        res.on('error', reject);
      },
    );
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.write(head);
    const pump = () => {
      while (!answered && written < totalBytes) {
        written += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end(`\r\n--${boundary}--\r\n`);
    };
    pump();
  });
}
