import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.js';
import type { JobStore } from '../services/store/job-store.js';
import { UploadService } from '../services/uploads/upload-service.js';
import { serveUpload } from '../transport/upload-route.js';
import type { Config } from './config.js';

// Uploads, wired: the service that keeps them and the route that serves their signed links. Links point at
// PUBLIC_URL; without it, at the gateway's own URL when the upstream is a simulator (it downloads from loopback),
// and nowhere in front of Claid, which cannot reach a loopback address: uploads are then refused, saying so.

export const NO_PUBLIC_URL_REFUSAL =
  'Uploads are off: this gateway sends jobs to Claid (CLAID_API_KEY is set) and has no PUBLIC_URL, and Claid ' +
  'cannot download an image from a loopback address. Pass a public image URL as input, or ask the operator to set ' +
  'PUBLIC_URL to the address Claid reaches this gateway at.';

export interface WiredUploads {
  service: UploadService;
  route(req: IncomingMessage, res: ServerResponse): void;
}

/** `ownUrl` is the gateway's base URL once it listens (undefined before). */
export function wireUploads(
  config: Config,
  store: JobStore,
  logger: Logger,
  ownUrl: () => string | undefined,
): WiredUploads {
  const { publicUrl, maxBytes, urlSecret } = config.uploads;
  const log = logger.child({ component: 'uploads' });
  if (!publicUrl && config.claid.apiKey) log.warn('uploadImage is refused: CLAID_API_KEY is set and PUBLIC_URL is not');
  const service = new UploadService({
    store: store.uploads,
    maxBytes,
    secret: urlSecret,
    logger: log,
    publicUrl: () => {
      if (publicUrl) return { url: publicUrl };
      if (config.claid.apiKey) return { refusal: NO_PUBLIC_URL_REFUSAL };
      const own = ownUrl();
      return own ? { url: own } : { refusal: 'The gateway is not listening yet; try again shortly.' };
    },
  });
  return { service, route: (req, res) => void serveUpload(service, req, res, log) };
}
