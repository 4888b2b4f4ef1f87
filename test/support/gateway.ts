import { Writable } from 'node:stream';
import { type Gateway, startGateway } from '../../src/gateway/build-gateway.js';
import { loadConfig } from '../../src/gateway/config.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';

/** Collects a logger's JSON lines so that tests can read what was logged (and what never was). */
export function captureLogger(level = 'trace'): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines, text: () => lines.join('\n') };
}

export interface TestGatewayOptions {
  env?: Record<string, string>;
  logger?: Logger;
}

/**
 * Claid's account limits and the per-caller spend limits, out of the way: tests measure behaviour, not limits;
 * budget and limit tests set their own.
 */
export const UNLIMITED_SPEND_ENV = {
  UPSTREAM_MAX_RPS: '1000',
  UPSTREAM_MAX_RPM: '60000',
  UPSTREAM_MAX_SUBMITS_PER_SECOND: '1000',
  UPSTREAM_MAX_SUBMITS_PER_MINUTE: '60000',
  MAX_SUBMITS_PER_MINUTE: '100000',
  MAX_CREDITS_PER_DAY: '100000000',
  MAX_UNFINISHED_JOBS: '1000',
} as const;

/** A gateway on a free loopback port with an in-memory store unless the env says otherwise. */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<Gateway> {
  const config = loadConfig({
    PORT: '0',
    SIMULATOR_PORT: '0',
    SIMULATOR_STEP_MS: '50',
    DATABASE_URL: 'sqlite::memory:',
    LOG_LEVEL: 'silent',
    ...UNLIMITED_SPEND_ENV,
    MAX_SUBSCRIPTIONS_PER_CONNECTION: '10000',
    MAX_SUBSCRIPTIONS_PER_CALLER: '100000',
    ...options.env,
  });
  return startGateway(config, { logger: options.logger ?? createLogger('silent') });
}

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
}

/** One GraphQL request over real HTTP. */
export async function gql<T = Record<string, any>>(
  gateway: { url: string },
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResponse<T>;
}

export const JOB_FIELDS = /* GraphQL */ `
  id upstreamId status isFinal createdAt updatedAt
  request { input output { destination format numberOfImages } options { prompt model aspectRatio inferenceSteps guidanceScale } }
  errors { message createdAt }
  result {
    inputObject { ext mps mime format width height }
    outputObjects { ext mps mime format width height tmpUrl objectKey objectBucket objectUri claidStorageUri expiresAt }
  }
  history { status at }
`;

export const SUBMIT = /* GraphQL */ `
  mutation Submit($input: SubmitAiEditInput!) {
    submitAiEdit(input: $input) { clientMutationId job { ${JOB_FIELDS} } }
  }
`;

export const READ = /* GraphQL */ `
  query Read($id: ID!) { aiEditJob(id: $id) { ${JOB_FIELDS} } }
`;

/** Reads a job until it is final, or fails after `timeoutMs`. */
export async function readUntilFinal(
  gateway: { url: string },
  id: string,
  timeoutMs = 15_000,
): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await gql(gateway, READ, { id });
    const job = res.data?.aiEditJob;
    if (job?.isFinal) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} not final after ${timeoutMs} ms: ${JSON.stringify(res)}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}
