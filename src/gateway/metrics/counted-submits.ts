import { GatewayError } from '../../domain/errors.js';
import type { JobService } from '../../services/jobs/job-service.js';

// Submits by outcome, counted around JobService.submit rather than inside it, so that the service (and whatever
// queue comes to sit behind it) knows nothing of metrics. An answer older than the call is an idempotency key's
// earlier job: replayed, not accepted again.

/** Makes `jobs.submit` tell `count` how each call ended; returns `jobs`. */
export function countSubmits(jobs: JobService, count: (outcome: string) => void): JobService {
  const submit = jobs.submit.bind(jobs);
  jobs.submit = async (params) => {
    const started = Date.now();
    try {
      const job = await submit(params);
      // Queued: stored to wait for the budget (or after a 429), sent later by the submit queue.
      count(job.createdAt.getTime() < started ? 'replayed' : job.upstreamId === null ? 'queued' : 'accepted');
      return job;
    } catch (error) {
      // A GatewayError's code is one of the fixed list; anything else is masked for the caller.
      count(error instanceof GatewayError ? error.code : 'masked');
      throw error;
    }
  };
  return jobs;
}
