import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import { isAsyncIterable, processRegularResult, type YogaServerInstance } from 'graphql-yoga';
import type { GraphQLContext } from '../schema/context.js';
import { type FinalReadTracker, replayableHeaders } from './final-read-cache.js';
import { readBody } from './read-body.js';
import { isOriginAllowed } from './security/origins.js';

// Plain JSON POSTs of one operation on node:http, without Yoga's fetch adapters. Yoga's request and response objects,
// its body stream and its result negotiation cost more than the operation itself (bench/README.md, reads). A request
// taken here still runs through Yoga's own `getResultForParams` (every onParams hook, the envelop with every plugin:
// parse and validation caches, the hardening limits, the context, masking, execution, onExecutionResult) and
// `processRegularResult` (status and body exactly as Yoga writes them). Only requests whose answer cannot depend on
// what is skipped come here: the HTTP-level hooks (CORS, the CSRF and Origin guards, body limits, result
// negotiation beyond JSON) either have nothing to do for them or have been checked by `accepts`.

export interface DirectJsonLaneOptions {
  graphqlEndpoint: string;
  /** CORS_ORIGINS: a request from one of them needs Yoga's CORS headers and goes to Yoga. */
  corsOrigins: readonly string[];
  maxBodyBytes: number;
  /** Yoga's maskError, for an error thrown before execution (Yoga masks those the same way). */
  maskError: (error: unknown, message: string) => Error;
}

type GatewayYoga = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

const REGULAR_TYPES = ['application/graphql-response+json', 'application/json'] as const;
const STREAMING_TYPES = ['text/event-stream', 'multipart/mixed'];

/** Yoga's reading of Accept (result-processor/accept.js): media types, utf-8 only, the last listed first. */
function acceptedMediaTypes(accept: string | undefined): string[] {
  const types: string[] = [];
  for (const entry of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [type, ...params] = entry.split(';');
    if (type === undefined) continue;
    const charset = params.find((param) => param.includes('charset=')) ?? 'charset=utf-8';
    if (charset === 'charset=utf-8') types.push(type);
  }
  return types.reverse();
}

function matches(asked: string, offered: string): boolean {
  const [askedType, askedSub] = asked.split('/');
  const [type, sub] = offered.split('/');
  return (type === '*' || type === askedType) && (sub === '*' || sub === askedSub);
}

/**
 * The JSON type Yoga would answer in, or undefined when it could pick a streaming one (a subscription or @defer may
 * answer text/event-stream or multipart/mixed, which only Yoga writes) or none at all.
 */
export function regularMediaType(accept: string | undefined): string | undefined {
  const key = accept ?? '';
  if (mediaTypeByAccept.has(key)) return mediaTypeByAccept.get(key);
  const chosen = negotiate(accept);
  // Clients send a handful of distinct Accept values; a bound keeps a hostile variety from growing the map.
  if (mediaTypeByAccept.size >= 256) mediaTypeByAccept.clear();
  mediaTypeByAccept.set(key, chosen);
  return chosen;
}

const mediaTypeByAccept = new Map<string, string | undefined>();

function negotiate(accept: string | undefined): string | undefined {
  const asked = acceptedMediaTypes(accept);
  if (asked.some((type) => STREAMING_TYPES.some((streaming) => matches(streaming, type)))) return undefined;
  let chosen: string | undefined;
  // Yoga keeps the last match, walking the asked types in this order.
  for (const type of asked) for (const offered of REGULAR_TYPES) if (matches(offered, type)) chosen = offered;
  return chosen;
}

/** What Yoga's context factory and hooks read of a request: method, URL and headers, looked up on node's request. */
class RequestView {
  readonly method = 'POST';
  readonly headers: { get(name: string): string | null; has(name: string): boolean };

  constructor(private readonly req: IncomingMessage) {
    this.headers = new HeaderView(req);
  }

  get url(): string {
    return `http://${this.req.headers.host ?? 'localhost'}${this.req.url}`;
  }
}

class HeaderView {
  constructor(private readonly req: IncomingMessage) {}

  get(name: string): string | null {
    const value = this.req.headers[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.req.headers[name.toLowerCase()] !== undefined;
  }
}

interface Params {
  query: string;
  operationName?: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The body's parameters when they are exactly what Yoga's JSON parser would hand on; anything else goes to Yoga. */
function paramsOf(body: Buffer): Params | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || typeof parsed.query !== 'string') return undefined;
  for (const key in parsed) if (!PARAM_KEYS.has(key)) return undefined;
  const { operationName, variables, extensions } = parsed;
  if (operationName != null && typeof operationName !== 'string') return undefined;
  if (variables != null && !isRecord(variables)) return undefined;
  if (extensions != null && !isRecord(extensions)) return undefined;
  return parsed as unknown as Params;
}

const PARAM_KEYS = new Set(['query', 'operationName', 'variables', 'extensions']);

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: Buffer;
}

/**
 * What processRegularResult writes for a result without errors or HTTP extensions: 200, the chosen type, the
 * result as JSON through the result's own `stringify` if it has one (omitInternalsFromResultErrors and the status rules
 * leave such a result alone).
 */
function plainAnswer(result: unknown, mediaType: string): Answer | undefined {
  const single = result as {
    errors?: unknown[];
    extensions?: { http?: unknown };
    stringify?: (result: unknown) => string;
  };
  if (isAsyncIterable(result) || Array.isArray(result) || single.errors?.length) return undefined;
  if (single.extensions?.http !== undefined) return undefined;
  // graphql-jit's results carry their serializer, which Yoga would call the same way.
  const text = Buffer.from(single.stringify ? single.stringify(result) : JSON.stringify(result));
  return {
    status: 200,
    headers: { 'content-type': `${mediaType}; charset=utf-8`, 'content-length': String(text.length) },
    text,
  };
}

/**
 * A subscription asked for in JSON: Yoga finds no processor (SSE is the only one for a subscription's stream) and
 * answers 406 naming text/event-stream once per media type asked for (process-request.js). Nobody reads the stream.
 */
function notAcceptable(stream: AsyncIterable<unknown>, accept: string | undefined): Answer {
  void (stream as AsyncIterable<unknown> & AsyncIterator<unknown>).return?.();
  const offered = acceptedMediaTypes(accept).map(() => 'text/event-stream');
  return {
    status: 406,
    headers: { accept: offered.join('; charset=utf-8, '), 'content-length': '0' },
    text: Buffer.alloc(0),
  };
}

/** Any other result exactly as Yoga answers it. */
async function yogaAnswer(result: unknown, yoga: GatewayYoga, mediaType: string): Promise<Answer> {
  const response = processRegularResult(result as never, yoga.fetchAPI, mediaType);
  const text = Buffer.from(await response.text());
  return { status: response.status, headers: replayableHeaders(response.headers, text.length), text };
}

export class DirectJsonLane {
  /** Requests answered here, and requests taken here whose body then sent them to Yoga. */
  readonly stats = { answered: 0, passedToYoga: 0 };

  constructor(
    private readonly yoga: GatewayYoga,
    private readonly options: DirectJsonLaneOptions,
  ) {}

  /**
   * A POST of JSON to the GraphQL endpoint with a Content-Length within MAX_BODY_BYTES, answered in JSON, from no
   * origin, the gateway's own, or one outside CORS_ORIGINS that the Origin check lets through (none needs CORS headers).
   */
  accepts(req: IncomingMessage): boolean {
    if (req.method !== 'POST' || req.url !== this.options.graphqlEndpoint) return false;
    const { headers } = req;
    const contentType = headers['content-type'];
    if (contentType === undefined || contentType.split(';')[0]!.trim().toLowerCase() !== 'application/json')
      return false;
    if (headers['transfer-encoding'] !== undefined) return false;
    const announced = headers['content-length'];
    if (announced === undefined || !/^\d{1,10}$/.test(announced)) return false;
    const length = Number(announced);
    if (length === 0 || length > this.options.maxBodyBytes) return false;
    const { origin } = headers;
    if (origin !== undefined) {
      if (this.options.corsOrigins.includes(origin.toLowerCase())) return false;
      if (!isOriginAllowed(origin, headers.host, this.options.corsOrigins)) return false;
    }
    return regularMediaType(headers.accept) !== undefined;
  }

  /** Answers a request `accepts` took; `body` when it has been read already (the read cache reads it first). */
  async serve(req: IncomingMessage, res: ServerResponse, body?: Buffer, tracker?: FinalReadTracker): Promise<void> {
    const read = body ?? (await readBody(req, this.options.maxBodyBytes));
    if (!read) {
      res.destroy();
      return;
    }
    const params = paramsOf(read);
    if (!params) {
      // Yoga gives malformed bodies their usual answers; @whatwg-node/server takes the body already read.
      (req as IncomingMessage & { body?: Buffer }).body = read;
      this.stats.passedToYoga++;
      await this.yoga.handle(req, res, tracker ? { readTracker: tracker } : {});
      return;
    }
    const request = new RequestView(req) as unknown as Request;
    const context: Record<string, unknown> = { req, res, request };
    if (tracker) context.readTracker = tracker;
    let result: Awaited<ReturnType<GatewayYoga['getResultForParams']>>;
    try {
      result = await this.yoga.getResultForParams({ params, request }, context as never);
    } catch (error) {
      // Thrown before execution (an onParams hook): Yoga answers such an error the same way, masked unless a GraphQLError.
      result = { errors: [error instanceof GraphQLError ? error : this.maskError(error)] };
    }
    const mediaType = regularMediaType(req.headers.accept)!;
    const { status, headers, text } = isAsyncIterable(result)
      ? notAcceptable(result, req.headers.accept)
      : (plainAnswer(result, mediaType) ?? (await yogaAnswer(result, this.yoga, mediaType)));
    if (tracker?.cacheable) {
      if (status === 200) tracker.keepResponse({ status, headers, body: text });
      else tracker.uncacheable();
    }
    this.stats.answered++;
    res.writeHead(status, headers).end(text);
  }

  private maskError(error: unknown): GraphQLError {
    const masked = this.options.maskError(error, 'Unexpected error.');
    return masked instanceof GraphQLError ? masked : new GraphQLError(masked.message);
  }
}
