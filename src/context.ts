import type { Job } from './services/domain.js';
import type { JobService } from './services/job-service.js';

// The one context factory, used by HTTP, SSE and WebSocket alike. Per-request state lives on the object it
// returns: the caller, and (through Pothos's dataloader plugin, keyed by this object) the request's loaders.

export interface GatewayServices {
  jobs: JobService;
  /** A job's live state for one subscriber (services/job-updates.ts). */
  jobUpdates(owner: string, jobId: string): Promise<AsyncGenerator<Job>>;
}

export interface GraphQLContext {
  /** Who is calling; every job read and written is scoped to this owner. */
  owner: string;
  services: GatewayServices;
}

export const ANONYMOUS_OWNER = 'anonymous';

export function createContextFactory(services: GatewayServices) {
  return function createContext(): GraphQLContext {
    return { owner: ANONYMOUS_OWNER, services };
  };
}
