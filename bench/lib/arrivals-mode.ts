import type { Client } from 'graphql-ws';
import { request } from 'undici';
import type { Child } from './child.js';
import type { DurationSpec } from './durations.js';
import { smallEdit } from './queries.js';
import { startGatewayChild, startSimulatorChild } from './stack.js';
import { connectAll, describeError } from './ws.js';

// One gateway of the arrivals scenario (bench/scenarios/arrivals.ts) with its own simulator (its own account budget):
// submits jobs as they arrive, keeps one graphql-ws subscriber per job, and records what each job went through.

export const CLAID = { perSecond: 4, perMinute: 120 };
export const GENERATIONS = { perSecond: 1, perMinute: 60 };
const WEBHOOK_SECRET = 'bench-arrivals-webhook-secret';

const SUBMIT = /* GraphQL */ `
  mutation Submit($input: SubmitAiEditInput!) { submitAiEdit(input: $input) { job { id upstreamId status } } }
`;
const UPDATED = /* GraphQL */ `
  subscription Updated($id: ID!) {
    aiEditJobUpdated(id: $id) { id upstreamId status isFinal history { status at } }
  }
`;

export interface ModeSpec {
  name: string;
  env: Record<string, string>;
  webhooks: boolean;
}

export interface TrackedArrival {
  /** Which phase it arrived in: 'warmup', 'cooldown', or the rate it is measured at. */
  tag: string;
  arrivedAt: number;
  /** What the submit answered: the job, or the refusal's code. */
  jobId?: string;
  refused?: string;
  upstreamId: number | null;
  statuses: string[];
  /** When the subscriber received the final event. */
  finalAt?: number;
  finalStatus?: string;
  history: { status: string; at: string }[];
  error?: string;
}

export class ArrivalsMode {
  readonly arrivals: TrackedArrival[] = [];
  private client!: Client;

  private constructor(
    readonly spec: ModeSpec,
    readonly sim: Child,
    readonly gateway: Child,
  ) {}

  static async start(spec: ModeSpec, durations: DurationSpec, verbose: boolean): Promise<ArrivalsMode> {
    const sim = await startSimulatorChild(
      { stepMs: 1_500, rateLimit: CLAID, generationLimit: GENERATIONS, durations },
      verbose,
    );
    let gateway: Child | undefined;
    try {
      gateway = await startGatewayChild(
        sim.info.url,
        {
          POLL_INTERVAL_MS: '1000',
          UPSTREAM_MAX_RPS: String(CLAID.perSecond),
          UPSTREAM_MAX_RPM: String(CLAID.perMinute),
          // The gateway's default generation budget (startGatewayChild lifts it for the other scenarios).
          UPSTREAM_MAX_SUBMITS_PER_SECOND: String(GENERATIONS.perSecond),
          UPSTREAM_MAX_SUBMITS_PER_MINUTE: String(GENERATIONS.perMinute),
          ...(spec.webhooks ? { CLAID_WEBHOOK_SECRET: WEBHOOK_SECRET } : {}),
          ...spec.env,
        },
        verbose,
        spec.name,
      );
      if (spec.webhooks)
        await sim.rpc('setWebhook', { url: `${gateway.info.url}/webhooks/claid`, secret: WEBHOOK_SECRET });
      const mode = new ArrivalsMode(spec, sim, gateway);
      mode.client = (await connectAll(`${gateway.info.url.replace(/^http/, 'ws')}/graphql`, 1))[0]!;
      return mode;
    } catch (error) {
      await gateway?.stop();
      await sim.stop();
      throw error;
    }
  }

  /** One arrival: submit, then subscribe to the job (not awaited by the caller's schedule). */
  async arrive(tag: string, n: number): Promise<void> {
    const a: TrackedArrival = { tag, arrivedAt: Date.now(), upstreamId: null, statuses: [], history: [] };
    this.arrivals.push(a);
    try {
      const res = await request(`${this.gateway.info.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: SUBMIT, variables: { input: smallEdit(this.sim.info.sampleUrl, n) } }),
      });
      const body = (await res.body.json()) as {
        data?: { submitAiEdit?: { job: { id: string; upstreamId: number | null; status: string } } } | null;
        errors?: { message: string; extensions?: { code?: string } }[];
      };
      const job = body.data?.submitAiEdit?.job;
      if (!job) {
        a.refused = body.errors?.[0]?.extensions?.code ?? `HTTP ${res.statusCode}`;
        return;
      }
      a.jobId = job.id;
      a.upstreamId = job.upstreamId;
    } catch (error) {
      a.error = `submit: ${describeError(error)}`;
      return;
    }
    this.client.subscribe(
      { query: UPDATED, variables: { id: a.jobId } },
      {
        next: (value) => {
          const j = (value.data as { aiEditJobUpdated?: Record<string, any> } | null | undefined)?.aiEditJobUpdated;
          if (value.errors?.length || !j || j.id !== a.jobId) {
            a.error ??= `bad event: ${JSON.stringify(value).slice(0, 300)}`;
            return;
          }
          a.statuses.push(j.status);
          if (j.upstreamId !== null) a.upstreamId = j.upstreamId;
          a.history = j.history;
          if (j.isFinal && a.finalAt === undefined) {
            a.finalAt = Date.now();
            a.finalStatus = j.status;
          }
        },
        error: (error) => {
          a.error ??= `subscription: ${describeError(error)}`;
        },
        complete: () => undefined,
      },
    );
  }

  /** Measured arrivals that were taken (not refused) and are not final yet. */
  running(tag: string): number {
    return this.arrivals.filter((a) => a.tag === tag && a.jobId && a.finalAt === undefined && !a.error).length;
  }

  async stop(): Promise<void> {
    await this.client?.dispose();
    await this.gateway.stop();
    await this.sim.stop();
  }
}
