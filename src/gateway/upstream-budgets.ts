import type { DisposerStack } from '../lib/disposer-stack.js';
import type { Logger } from '../lib/logger.js';
import type { ScaleOut } from '../services/scale-out/scale-out.js';
import { GenerationBudget } from '../services/upstream/generation-budget.js';
import { RateBudget } from '../services/upstream/rate-budget.js';
import type { Config } from './config.js';

/**
 * The account's two budgets: requests (every call, UPSTREAM_MAX_RPS / _RPM) and, on top of it, generations (submits,
 * UPSTREAM_MAX_SUBMITS_PER_SECOND / _PER_MINUTE); shared through Redis when the scale-out has it.
 */
export function openUpstreamBudgets(
  config: Config,
  scaleOut: ScaleOut,
  logger: Logger,
  disposers: DisposerStack,
): { budget: RateBudget; generations: GenerationBudget } {
  const generations = new GenerationBudget({
    perSecond: config.claid.maxSubmitsPerSecond,
    perMinute: config.claid.maxSubmitsPerMinute,
    logger,
    grantWindows: scaleOut.grantWindows,
    shared: scaleOut.sharedGenerations,
  });
  const budget = new RateBudget({
    perSecond: config.claid.maxRequestsPerSecond,
    perMinute: config.claid.maxRequestsPerMinute,
    logger,
    grantWindows: scaleOut.grantWindows,
    generations,
    ...(scaleOut.sharedBudget ? { shared: scaleOut.sharedBudget } : {}),
  });
  disposers.add('upstream budget', () => budget.close());
  return { budget, generations };
}
