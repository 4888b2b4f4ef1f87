import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { ERROR_CODES, ErrorCode } from '../../domain/errors.js';
import type { PersistedOperationsMode } from './security-config.js';

// Trusted documents. The client preset of GraphQL Code Generator writes client/gql/persisted-documents.json, a map of
// sha256 hash -> document, for the operations kept in client/operations. A client sends the hash instead of the
// document, as `documentId` (in a JSON body or GET's query string) or as Apollo's
// `extensions.persistedQuery.sha256Hash`. PERSISTED_OPERATIONS=allow runs both hashes and ad-hoc documents, and so
// Apollo's automatic persisted queries too: a hash it does not know is PERSISTED_QUERY_NOT_FOUND, the retry with the
// document and its matching hash runs (and is remembered, so the next hash-only request runs). only refuses anything
// that is not in the manifest, registration included.

const { PERSISTED_QUERY_ONLY, PERSISTED_QUERY_NOT_FOUND, BAD_REQUEST } = ErrorCode;
const notFound = {
  code: PERSISTED_QUERY_NOT_FOUND,
  http: { status: ERROR_CODES.PERSISTED_QUERY_NOT_FOUND.httpStatus },
};
/** Documents that clients registered in allow mode (Apollo's automatic persisted queries), newest kept. */
const MAX_REGISTERED_DOCUMENTS = 1000;

export const DEFAULT_MANIFEST = fileURLToPath(new URL('../../../client/gql/persisted-documents.json', import.meta.url));

export interface OperationParams {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

export class PersistedOperations {
  private readonly registered = new LRUCache<string, string>({ max: MAX_REGISTERED_DOCUMENTS });

  constructor(
    readonly mode: Exclude<PersistedOperationsMode, 'off'>,
    private readonly documents: ReadonlyMap<string, string>,
  ) {}

  /** Reads a persisted-documents.json; throws with the file's name when it is missing or not a hash -> document map. */
  static load(mode: Exclude<PersistedOperationsMode, 'off'>, file = DEFAULT_MANIFEST): PersistedOperations {
    let manifest: unknown;
    try {
      manifest = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(
        `PERSISTED_OPERATIONS=${mode} needs a manifest, and ${file} could not be read: ${(error as Error).message}`,
      );
    }
    if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest))
      throw new Error(`${file} is not a map of hash -> document`);
    const documents = new Map<string, string>();
    for (const [hash, document] of Object.entries(manifest)) {
      if (typeof document !== 'string') throw new Error(`${file}: the entry ${hash} is not a document`);
      // The client preset writes keys as "sha256:<hex>"; clients may send either form.
      const hex = withoutPrefix(hash);
      if (sha256(document) !== hex)
        throw new Error(`${file}: the entry ${hash} does not match its document's sha256 hash`);
      documents.set(hex, document);
    }
    return new PersistedOperations(mode, documents);
  }

  get size(): number {
    return this.documents.size;
  }

  /**
   * The document to run for a request's parameters: the manifest's when a hash is given, the request's own query in
   * allow mode (with a hash, only when the hash is the query's), and a GraphQLError (HTTP 400) for an unknown hash,
   * a hash that is not its query's or, in only mode, an ad-hoc document.
   */
  documentFor(params: OperationParams): string {
    const hash = requestedHash(params);
    // graphql-ws sends `query: ""` alongside a hash: no document.
    const query = typeof params.query === 'string' && params.query !== '' ? params.query : undefined;
    if (hash !== undefined) {
      const document = this.documents.get(hash) ?? this.registered.get(hash);
      if (document !== undefined) return document;
      if (query === undefined) {
        throw new GraphQLError('PersistedQueryNotFound: no trusted document has this hash.', {
          extensions: notFound,
        });
      }
      if (this.mode === 'only') throw onlyTrusted();
      if (sha256(query) !== hash) {
        throw new GraphQLError('PersistedQueryHashMismatch: the hash sent is not the sha256 of the query.', {
          extensions: { code: BAD_REQUEST, http: { status: ERROR_CODES.BAD_REQUEST.httpStatus } },
        });
      }
      this.registered.set(hash, query);
      return query;
    }
    if (this.mode === 'only') throw onlyTrusted();
    // Not a string (or missing): Yoga's parameter check, which runs next, answers that with 400.
    return params.query as string;
  }
}

function onlyTrusted(): GraphQLError {
  return new GraphQLError(
    'PersistedQueryOnly: this gateway runs only trusted documents; send documentId or extensions.persistedQuery.sha256Hash.',
    { extensions: { code: PERSISTED_QUERY_ONLY, http: { status: ERROR_CODES.PERSISTED_QUERY_ONLY.httpStatus } } },
  );
}

export function sha256(document: string): string {
  return createHash('sha256').update(document).digest('hex');
}

function requestedHash(params: OperationParams): string | undefined {
  const fromExtensions = (params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined)
    ?.persistedQuery?.sha256Hash;
  const raw = params.documentId ?? fromExtensions;
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') {
    throw new GraphQLError('documentId must be a string.', {
      extensions: notFound,
    });
  }
  return withoutPrefix(raw);
}

function withoutPrefix(hash: string): string {
  return (hash.startsWith('sha256:') ? hash.slice('sha256:'.length) : hash).toLowerCase();
}

/** Yoga plugin: swaps a hash for its document before Yoga checks the parameters (so `documentId` is accepted). */
export function usePersistedOperations(operations: PersistedOperations): Plugin {
  return {
    onParams({ params, request, setParams }) {
      const { documentId, ...rest } = params as typeof params & { documentId?: unknown };
      // Yoga's GET parser keeps query, operationName, variables and extensions only.
      const fromUrl = request.method === 'GET' ? new URL(request.url).searchParams.get('documentId') : null;
      const query = operations.documentFor({ ...params, documentId: documentId ?? fromUrl ?? undefined });
      setParams({ ...rest, query });
    },
  };
}
