import type { Logger } from '../lib/logger.js';
import type { CallerLimits } from '../services/auth/caller-limits.js';
import type { JobPubSub } from '../services/jobs/job-events.js';
import type { JobPoller } from '../services/jobs/job-poller.js';
import type { JobRefresher } from '../services/jobs/job-refresher.js';
import { JobService } from '../services/jobs/job-service.js';
import type { PollCoordinator } from '../services/scale-out/poll-coordinator-contract.js';
import type { JobStore } from '../services/store/job-store.js';
import type { ClaidClient } from '../services/upstream/claid-client.js';
import type { GenerationBudget } from '../services/upstream/generation-budget.js';
import type { RateBudget } from '../services/upstream/rate-budget.js';
import type { Config } from './config.js';

export interface JobServiceParts {
  store: JobStore;
  claid: ClaidClient;
  refresher: JobRefresher;
  events: JobPubSub;
  logger: Logger;
  coordinator: PollCoordinator;
  poller: JobPoller;
  limits: CallerLimits;
  generations: GenerationBudget;
  budget: RateBudget;
}

/** The JobService as the gateway runs it: its limits, its budgets, and its new jobs handed to the poller. */
export function createJobService(config: Config, parts: JobServiceParts): JobService {
  const { store, claid, refresher, events, logger, coordinator, poller, limits, generations, budget } = parts;
  return new JobService({
    store,
    claid,
    refresher,
    events,
    // A job submitted here is the coordinator's to read even while Redis is away (poll-coordinator.ts).
    poller: {
      track(job) {
        coordinator.submittedHere(job.id);
        poller.track(job);
      },
    },
    logger,
    pollIntervalMs: config.pollIntervalMs,
    claimWaitMs: config.claid.timeoutMs + 5_000,
    // Alone on the store (no Redis, so no other instance): whatever submit is left unsettled at start died with us.
    ...(config.redisUrl ? {} : { abandonedSubmitAfterMs: 0 }),
    admitSubmit: (owner, request) => limits.admitSubmit(owner, request),
    generations,
    requests: budget,
  });
}
