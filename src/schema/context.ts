import { randomUUID } from 'node:crypto';
import { currentRequestId } from '../lib/request-scope.js';
import type { GatewayServices, ReadTracker, ResolverContext } from '../resolvers/resolver-context.js';
import { type Authenticator, authorizationFromConnectionParams, type Caller } from '../services/auth/authenticator.js';
import type { CallerLimits } from '../services/auth/caller-limits.js';

export type { GatewayServices, ReadTracker };

// The one context factory, used by HTTP, SSE and WebSocket alike. Per-request state lives on the object it
// returns: the caller, and (through Pothos's dataloader plugin, keyed by this object) the request's loaders.

export interface GraphQLContext extends ResolverContext {
  caller: Caller;
  /** The request's id (x-request-id in and out; per connection over graphql-ws): on its log lines and masked errors. */
  requestId: string;
  /**
   * Takes one of this caller's subscription slots (and, over graphql-ws, one of its connection's) or throws
   * RATE_LIMITED; returns the release. Taken once per subscriber by SharedSubscriptions.joinAs, through which every
   * subscription runs (graphql-ws and HTTP alike); absent from the copy of the context a shared execution runs with.
   */
  acquireSubscription?: () => () => void;
}

/** Who may call (AUTH_MODE=none authenticates everyone as the anonymous caller), and how much (src/services/auth). */
export interface CallerAccess {
  authenticator: Authenticator;
  limits: CallerLimits;
}

/** What the transports hand the factory: Yoga's request (HTTP, SSE), or graphql-ws's context (WebSocket). */
interface TransportContext {
  request?: { headers: { get(name: string): string | null } };
  connectionInitReceived?: boolean;
  connectionParams?: Readonly<Record<string, unknown>>;
  /** The graphql-ws connection's socket. */
  socket?: object;
  /** Put on the server context by the read cache (HTTP), which has authenticated the request already. */
  readTracker?: ReadTracker;
}

export function createContextFactory(services: GatewayServices, access: CallerAccess) {
  return async function createContext(initial: TransportContext): Promise<GraphQLContext> {
    const overWebSocket = 'connectionInitReceived' in initial;
    const caller =
      initial.readTracker?.caller ??
      (await access.authenticator.authenticate(
        overWebSocket
          ? authorizationFromConnectionParams(initial.connectionParams)
          : initial.request?.headers.get('authorization'),
      ));
    const { limits } = access;
    // Subscription slots count per caller and per graphql-ws connection (an SSE request is its own connection).
    const connection = overWebSocket ? initial.socket : undefined;
    return {
      owner: caller.name,
      caller,
      requestId: currentRequestId() ?? randomUUID(),
      services,
      acquireSubscription: () => limits.acquireSubscription(caller.name, connection),
    };
  };
}
