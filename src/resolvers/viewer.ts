import type { Caller } from '../services/auth/authenticator.js';
import type { CallerUsage } from '../services/auth/caller-limits.js';
import type { ResolverContext } from './resolver-context.js';

// Query.viewer: who is calling, what its limits are and how much of them it has used.

export interface ViewerShape {
  caller: Caller;
  usage: CallerUsage;
  hasWebhookSecret: boolean;
}

export async function viewer(ctx: ResolverContext, caller: Caller): Promise<ViewerShape> {
  // Usage changes with every submit: an answer that shows it is never kept by the read cache.
  ctx.readTracker?.uncacheable();
  const [usage, hasWebhookSecret] = await Promise.all([
    ctx.services.callerUsage(caller.name),
    ctx.services.webhooks.hasSecret(caller.name),
  ]);
  return { caller, usage, hasWebhookSecret };
}
