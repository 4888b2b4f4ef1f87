import { type ViewerShape, viewer } from '../resolvers/viewer.js';
import type { CallerUsage } from '../services/auth/caller-limits.js';
import { builder } from './builder.js';

// Query.viewer: the caller, its limits and its usage, by the same numbers the limits refuse with.

const AuthenticatedByEnum = builder.enumType('AuthenticatedBy', {
  description: 'How the caller was authenticated.',
  values: {
    NONE: { value: 'none', description: 'AUTH_MODE=none: everyone is the anonymous caller.' },
    API_KEY: { value: 'apikey', description: 'An API key (GATEWAY_API_KEYS / GATEWAY_API_KEYS_FILE).' },
    JWT: { value: 'jwt', description: 'A JWT; the caller is its `sub`.' },
  } as const,
});

const ViewerLimits = builder.objectRef<CallerUsage>('ViewerLimits').implement({
  description: 'What the caller may spend; a submit or subscription past one is refused RATE_LIMITED naming it.',
  fields: (t) => ({
    maxSubmitsPerMinute: t.int({
      description: 'MAX_SUBMITS_PER_MINUTE.',
      resolve: (u) => u.limits.maxSubmitsPerMinute,
    }),
    maxUnfinishedJobs: t.int({ description: 'MAX_UNFINISHED_JOBS.', resolve: (u) => u.limits.maxUnfinishedJobs }),
    maxSubscriptionsPerConnection: t.int({
      description: 'MAX_SUBSCRIPTIONS_PER_CONNECTION.',
      resolve: (u) => u.limits.maxSubscriptionsPerConnection,
    }),
    maxSubscriptionsPerCaller: t.int({
      description: 'MAX_SUBSCRIPTIONS_PER_CALLER (per instance).',
      resolve: (u) => u.limits.maxSubscriptionsPerCaller,
    }),
    maxCreditsPerDay: t.int({
      description: "MAX_CREDITS_PER_DAY, or your API key's own maxCreditsPerDay. A job costs 2 credits per image.",
      resolve: (u) => u.limits.maxCreditsPerDay,
    }),
    creditsResetAt: t.field({
      type: 'DateTime',
      description: 'When the day’s credits start again (midnight UTC).',
      resolve: (u) => u.creditsResetAt,
    }),
  }),
});

const ViewerUsage = builder.objectRef<CallerUsage>('ViewerUsage').implement({
  description: 'What the caller has used, counted as the limits count it.',
  fields: (t) => ({
    creditsToday: t.int({
      description:
        'Credits of your jobs created today (UTC), with submits under way; a job that ended ERROR without an image costs none.',
      resolve: (u) => u.creditsToday,
    }),
    creditsLeftToday: t.int({
      description: 'maxCreditsPerDay minus creditsToday (never below 0).',
      resolve: (u) => Math.max(0, u.limits.maxCreditsPerDay - u.creditsToday),
    }),
    submitsThisMinute: t.int({
      description: 'Submits counted against maxSubmitsPerMinute in the current minute (on this instance).',
      resolve: (u) => u.submitsThisMinute,
    }),
    submitsResetAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the current minute’s submit count ends; null when it is empty.',
      resolve: (u) => u.submitsResetAt,
    }),
    unfinishedJobs: t.int({
      description: 'Your jobs not yet final, with submits under way (counted up to 1000).',
      resolve: (u) => u.unfinishedJobs,
    }),
    openSubscriptions: t.int({
      description: 'Your open subscriptions on this instance (the limit counts per instance).',
      resolve: (u) => u.openSubscriptions,
    }),
  }),
});

const Viewer = builder.objectRef<ViewerShape>('Viewer').implement({
  description: 'The caller of this request.',
  fields: (t) => ({
    id: t.id({
      description: 'The caller: the owner of its jobs (API key name, JWT sub, or anonymous).',
      resolve: (v) => v.caller.name,
    }),
    authenticatedBy: t.field({
      type: AuthenticatedByEnum,
      description: 'How the caller was authenticated.',
      resolve: (v) => v.caller.authenticatedBy,
    }),
    hasWebhookSecret: t.boolean({
      description:
        'Whether rotateWebhookSecret has made a webhook signing secret (needed for SubmitAiEditInput.webhook).',
      resolve: (v) => v.hasWebhookSecret,
    }),
    limits: t.field({ type: ViewerLimits, description: 'What you may spend.', resolve: (v) => v.usage }),
    usage: t.field({ type: ViewerUsage, description: 'What you have used.', resolve: (v) => v.usage }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: Viewer,
    description: 'Who you are, your limits and what is left of them: what a frontend shows before a submit.',
    resolve: (_root, _args, ctx) => viewer(ctx, ctx.caller),
  }),
}));
