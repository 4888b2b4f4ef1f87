import { type DocumentNode, type ExecutionArgs, type ExecutionResult, GraphQLError, print } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LatestPerKeyChannel } from '../lib/latest-per-key-channel.js';
import type { GraphQLContext } from '../schema/context.js';
import {
  SHARED_EXECUTION,
  type SharedEvent,
  type SharedSubscriptionMember,
  type SharedSubscriptions,
  sharedSubscriptionKey,
} from './shared-subscriptions.js';

// Shared subscription executions for subscriptions that arrive over HTTP (Server-Sent Events, multipart): a Yoga
// plugin replaces the subscribe function with one that joins the caller's shared stream for that document and
// variables. Each event is executed and serialized once; Yoga's SSE writer takes the shared JSON through the
// result's `stringify`. Every subscriber's own result hooks (error masking) still run on what it receives.
//
// graphql-ws subscriptions share through their own registry (src/transport/graphql-ws-server.ts), whose executions run through
// the whole envelop; SharedSubscriptions.joinAs marks every shared execution SHARED_EXECUTION, so this plugin lets
// them through.

const printed = new WeakMap<DocumentNode, string>();
/** Yoga's parser cache hands out one DocumentNode per query text, so this prints each document once. */
function documentText(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

export function useSharedSubscriptions(shared: SharedSubscriptions): Plugin<GraphQLContext> {
  return {
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const context = args.contextValue as GraphQLContext & { [SHARED_EXECUTION]?: true };
      if (context[SHARED_EXECUTION]) return;
      const start = subscribeFn as (args: ExecutionArgs) => Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;
      setSubscribeFn(async (memberArgs: ExecutionArgs) => {
        const key = sharedSubscriptionKey({
          owner: context.owner,
          document: documentText(memberArgs.document),
          operationName: memberArgs.operationName,
          variables: memberArgs.variableValues,
        });
        const member = new StreamMember();
        let outcome: Awaited<ReturnType<typeof shared.joinAs>>;
        try {
          outcome = await shared.joinAs(context, key, (contextValue) => start({ ...memberArgs, contextValue }), member);
        } catch (error) {
          // RATE_LIMITED, or a start that threw: this subscriber's answer, masked by Yoga like any resolver error.
          return { errors: [new GraphQLError((error as Error).message, { originalError: error as Error })] };
        }
        return outcome.joined ? member.stream(outcome.leave) : outcome.result;
      });
    },
  };
}

/**
 * A member that hands events to Yoga's writer as a stream that keeps the newest unread event per key
 * (SharedEvent.key): a slow reader skips to each job's newest state, and the last events are still delivered after
 * complete(). Events may come before Yoga first pulls the stream; they wait the same way.
 */
export class StreamMember implements SharedSubscriptionMember {
  private readonly keys = new WeakMap<ExecutionResult, unknown>();
  private leave: (() => void) | undefined;
  private readonly channel = new LatestPerKeyChannel<ExecutionResult>(
    (result) => this.keys.get(result),
    () => this.leave?.(),
  );

  next(event: SharedEvent): void {
    this.keys.set(event.result, event.key);
    this.channel.push(event.result);
  }

  complete(): void {
    this.channel.end();
  }

  fail(error: unknown): void {
    this.channel.end(error ?? new Error('the subscription failed'));
  }

  /** The stream Yoga writes; its return() (the client went away) leaves at once, even while waiting for an event. */
  stream(leave: () => void): LatestPerKeyChannel<ExecutionResult> {
    this.leave = leave;
    if (this.channel.ended) leave();
    return this.channel;
  }
}
