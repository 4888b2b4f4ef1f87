import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ERROR_CODES, ErrorCode } from '../../domain/errors.js';
import type { PersistedOperationsMode } from './security-config.js';

// Trusted documents. The client preset of GraphQL Code Generator writes client/gql/persisted-documents.json, a map of
// sha256 hash -> document, for the operations kept in client/operations. A client sends the hash instead of the
// document, as `documentId` or as Apollo's `extensions.persistedQuery.sha256Hash`. PERSISTED_OPERATIONS=allow runs
// both hashes and ad-hoc documents; only refuses anything that is not in the manifest.

const { PERSISTED_QUERY_ONLY, PERSISTED_QUERY_NOT_FOUND } = ErrorCode;
const notFound = {
  code: PERSISTED_QUERY_NOT_FOUND,
  http: { status: ERROR_CODES.PERSISTED_QUERY_NOT_FOUND.httpStatus },
};

export const DEFAULT_MANIFEST = fileURLToPath(new URL('../../../client/gql/persisted-documents.json', import.meta.url));

export interface OperationParams {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

export class PersistedOperations {
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
   * allow mode, and a GraphQLError (HTTP 400) for an unknown hash or, in only mode, an ad-hoc document.
   */
  documentFor(params: OperationParams): string {
    const hash = requestedHash(params);
    if (hash !== undefined) {
      const document = this.documents.get(hash);
      if (document === undefined) {
        throw new GraphQLError('PersistedQueryNotFound: no trusted document has this hash.', {
          extensions: notFound,
        });
      }
      return document;
    }
    if (this.mode === 'only') {
      throw new GraphQLError(
        'PersistedQueryOnly: this gateway runs only trusted documents; send documentId or extensions.persistedQuery.sha256Hash.',
        {
          extensions: { code: PERSISTED_QUERY_ONLY, http: { status: ERROR_CODES.PERSISTED_QUERY_ONLY.httpStatus } },
        },
      );
    }
    // Not a string (or missing): Yoga's parameter check, which runs next, answers that with 400.
    return params.query as string;
  }
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
  return hash.startsWith('sha256:') ? hash.slice('sha256:'.length) : hash;
}

/** Yoga plugin: swaps a hash for its document before Yoga checks the parameters (so `documentId` is accepted). */
export function usePersistedOperations(operations: PersistedOperations): Plugin {
  return {
    onParams({ params, setParams }) {
      const { documentId: _documentId, ...rest } = params as typeof params & { documentId?: unknown };
      const query = operations.documentFor(params as OperationParams);
      setParams({ ...rest, query });
    },
  };
}
