import { type DocumentNode, type ExecutionArgs, type ExecutionResult, GraphQLError, print } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LatestValueQueue } from '../lib/latest-value-queue.js';
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
        const member = new QueueMember();
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

/** A member that hands events to Yoga's writer as a stream; a slow reader skips to the newest event. */
class QueueMember implements SharedSubscriptionMember {
  private readonly queue = new LatestValueQueue<ExecutionResult>();
  private failure: { error: unknown } | undefined;

  next(event: SharedEvent): void {
    this.queue.push(event.result);
  }

  complete(): void {
    this.queue.finish();
  }

  fail(error: unknown): void {
    this.failure = { error };
    this.queue.close();
  }

  /**
   * The stream Yoga writes: the final event is still delivered after complete(); return() (the client went away)
   * leaves at once, even while waiting for the next event, which an async generator could not.
   */
  stream(leave: () => void): AsyncGenerator<ExecutionResult> {
    const done = { value: undefined, done: true } as const;
    const stream = {
      next: async (): Promise<IteratorResult<ExecutionResult>> => {
        const step = await this.queue.next();
        if (!step.done) return step;
        leave();
        if (this.failure) throw this.failure.error;
        return done;
      },
      return: async () => {
        this.queue.close();
        leave();
        return done;
      },
      throw: async (error: unknown) => {
        this.queue.close();
        leave();
        throw error;
      },
      [Symbol.asyncIterator]: () => stream,
    };
    return stream as unknown as AsyncGenerator<ExecutionResult>;
  }
}
