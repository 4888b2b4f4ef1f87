import type { Config } from './config.js';

// The one line an operator reads first: what this gateway runs with. It carries no secret: the Claid key, the JWT
// secret and API keys are never in it, and a URL shows without its password and query (which may hold one).

export interface StartupSummary {
  upstream: string;
  store: string;
  redis: string;
  auth: string;
  corsOrigins: string;
}

export function startupSummary(config: Config, simulatorUrl: string | undefined): StartupSummary {
  const { auth } = config;
  return {
    upstream: config.claid.apiUrl
      ? `${withoutSecrets(config.claid.apiUrl)}${config.claid.apiKey ? '' : ' (a simulator, no CLAID_API_KEY)'}`
      : `the embedded simulator at ${simulatorUrl ?? '(not listening)'}`,
    store: withoutSecrets(config.databaseUrl),
    redis: config.redisUrl ? withoutSecrets(config.redisUrl) : 'none (one instance)',
    auth: auth.mode === 'none' && auth.allowAnonymous ? 'none, anonymous callers allowed' : auth.mode,
    corsOrigins: config.security.corsOrigins.length ? config.security.corsOrigins.join(' ') : 'same origin only',
  };
}

export function describeStartup(summary: StartupSummary): string {
  return `upstream ${summary.upstream}; store ${summary.store}; redis ${summary.redis}; auth ${summary.auth}; CORS origins ${summary.corsOrigins}`;
}

/** A URL for a log line: user kept, password and query dropped; sqlite paths as they are. */
export function withoutSecrets(url: string): string {
  if (url.startsWith('sqlite:')) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    const hadQuery = u.search !== '';
    u.search = '';
    u.hash = '';
    return `${u.toString().replace(/\/$/, '')}${hadQuery ? '?…' : ''}`;
  } catch {
    return `${url.split(':')[0]}:… (unparsable)`;
  }
}
