import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

// The built web app held in memory: a few hundred kB, read and compressed once, on the first request for it.

export interface WebAppFile {
  readonly type: string;
  readonly etag: string;
  readonly plain: Uint8Array<ArrayBuffer>;
  /** Absent for formats that are compressed already (images). */
  readonly gzipped: Uint8Array<ArrayBuffer> | undefined;
}

const TEXT = (type: string) => `${type}; charset=utf-8`;
const CONTENT_TYPES: Readonly<Record<string, { type: string; compress: boolean }>> = {
  '.html': { type: TEXT('text/html'), compress: true },
  '.js': { type: TEXT('text/javascript'), compress: true },
  '.css': { type: TEXT('text/css'), compress: true },
  '.json': { type: TEXT('application/json'), compress: true },
  '.webmanifest': { type: TEXT('application/manifest+json'), compress: true },
  '.svg': { type: 'image/svg+xml', compress: true },
  '.txt': { type: TEXT('text/plain'), compress: true },
  '.map': { type: TEXT('application/json'), compress: true },
  '.png': { type: 'image/png', compress: false },
  '.jpg': { type: 'image/jpeg', compress: false },
  '.jpeg': { type: 'image/jpeg', compress: false },
  '.webp': { type: 'image/webp', compress: false },
  '.avif': { type: 'image/avif', compress: false },
  '.ico': { type: 'image/x-icon', compress: false },
  '.woff2': { type: 'font/woff2', compress: false },
};
const UNKNOWN = { type: 'application/octet-stream', compress: false };

/** Every file under `dir` by its URL path (`/assets/index-Bx1.js`); rejects when `dir` cannot be read. */
export async function loadWebAppFiles(dir: string): Promise<ReadonlyMap<string, WebAppFile>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = new Map<string, WebAppFile>();
  await Promise.all(
    entries
      .filter((entry) => entry.isFile())
      .map(async (entry) => {
        const full = join(entry.parentPath, entry.name);
        const { type, compress } = CONTENT_TYPES[extname(entry.name).toLowerCase()] ?? UNKNOWN;
        // Fresh buffers from readFile and gzip, never slices of a shared pool: their ArrayBuffer is their own.
        const plain = (await readFile(full)) as Uint8Array<ArrayBuffer>;
        const gzipped = compress ? ((await promisify(gzip)(plain)) as Uint8Array<ArrayBuffer>) : undefined;
        const etag = `"${createHash('sha256').update(plain).digest('base64url').slice(0, 22)}"`;
        files.set(`/${relative(dir, full).split(sep).join('/')}`, { type, etag, plain, gzipped });
      }),
  );
  if (!files.has('/index.html')) throw new Error(`${dir} has no index.html`);
  return files;
}
