import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { authHeaders } from './api-key.js';
import { operationOf } from './documents.js';
import { ApiError, type WireError } from './errors.js';

// Queries and mutations over plain fetch, a file upload over the GraphQL multipart request spec. Every request
// carries a preflight header: the gateway's CSRF guard requires one on anything a form could send cross-site
// (multipart above all), and only a script of this origin can add it.

export const GRAPHQL_PATH = '/graphql';
const PREFLIGHT = { 'x-graphql-yoga-csrf': 'web-app' };
const ACCEPT = { accept: 'application/graphql-response+json, application/json' };

interface WireResponse<T> {
  data?: T | null;
  errors?: WireError[];
}

/** Runs an operation; resolves to its data, or rejects with the first error as an ApiError. */
export async function execute<Result, Variables>(
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  apiKey: string,
): Promise<Result> {
  const body = JSON.stringify({ ...operationOf(document), variables });
  return send<Result>({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...ACCEPT, ...PREFLIGHT, ...authHeaders(apiKey) },
    body,
  });
}

/** Runs an operation whose variable `fileVariable` is `file`, as one multipart request (operations, map, file). */
export async function executeWithFile<Result, Variables, FileVariable extends keyof Variables & string>(
  document: TypedDocumentNode<Result, Variables>,
  variables: Omit<Variables, FileVariable>,
  fileVariable: FileVariable,
  file: Blob,
  fileName: string,
  apiKey: string,
): Promise<Result> {
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({ ...operationOf(document), variables: { ...variables, [fileVariable]: null } }),
  );
  form.append('map', JSON.stringify({ 0: [`variables.${fileVariable}`] }));
  form.append('0', file, fileName);
  // No content-type: the browser writes multipart/form-data with its boundary.
  return send<Result>({ method: 'POST', headers: { ...ACCEPT, ...PREFLIGHT, ...authHeaders(apiKey) }, body: form });
}

async function send<Result>(init: RequestInit): Promise<Result> {
  let response: Response;
  try {
    response = await fetch(GRAPHQL_PATH, init);
  } catch {
    throw new ApiError('The gateway cannot be reached.', undefined, {});
  }
  const text = await response.text();
  let parsed: WireResponse<Result> | undefined;
  try {
    parsed = JSON.parse(text) as WireResponse<Result>;
  } catch {
    // Not GraphQL's JSON (a proxy's page, a cut connection): the status is all there is to say.
  }
  const first = parsed?.errors?.[0];
  if (first) throw ApiError.from(first);
  if (!parsed?.data) {
    throw new ApiError(`The gateway answered HTTP ${response.status} ${response.statusText}.`.trim(), undefined, {});
  }
  return parsed.data;
}
