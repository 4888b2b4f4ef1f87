import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.js';
import type { UploadService } from '../services/uploads/upload-service.js';
import { UPLOADS_PATH } from '../services/uploads/upload-urls.js';

// GET /uploads/<sha256>?owner=…&expires=…&sig=…: an uploaded image, to whoever holds its signed link (Claid, the
// simulator, the caller's browser). The signature is checked before the store is asked, so a forged link learns
// nothing of what exists: 403 for a missing, forged or expired signature, 404 for an unknown upload.

export { UPLOADS_PATH };

export const isUploadRequest = (req: IncomingMessage): boolean => req.url?.startsWith(UPLOADS_PATH) ?? false;

export async function serveUpload(
  uploads: UploadService,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
): Promise<void> {
  const reply = (status: number, message: string) =>
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return void reply(405, 'Method not allowed');
  }
  try {
    const checked = await uploads.urls.verify(req.url ?? '/', new Date());
    if (!checked.ok) {
      if (checked.reason === 'not-an-upload') return void reply(404, 'No such upload');
      return void reply(403, checked.reason === 'expired' ? 'This link has expired' : 'Invalid signature');
    }
    const { link } = checked;
    const found = await uploads.find(link.owner, link.sha256);
    if (!found) return void reply(404, 'No such upload');
    const maxAge = Math.max(0, Math.floor((link.expiresAt.getTime() - Date.now()) / 1000));
    res.writeHead(200, {
      'content-type': found.upload.contentType,
      'content-length': found.bytes.length,
      'cache-control': `private, max-age=${maxAge}, immutable`,
      etag: `"${link.sha256}"`,
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : found.bytes);
  } catch (err) {
    logger.warn({ err }, 'could not serve an upload');
    if (!res.headersSent) reply(503, 'The store is unavailable; try again shortly');
    else res.destroy();
  }
}
