/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "subscription AiEditJobUpdated($id: ID!) {\n  aiEditJobUpdated(id: $id) {\n    id\n    status\n    isFinal\n    updatedAt\n    errors {\n      message\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n      }\n    }\n  }\n}": typeof types.AiEditJobUpdatedDocument,
    "fragment AiEditJobView on AiEditJob {\n  id\n  status\n  isFinal\n  createdAt\n  updatedAt\n  estimatedFinishAt\n  queuePosition\n  request {\n    input\n    options {\n      prompt\n      model\n      aspectRatio\n    }\n    output {\n      numberOfImages\n      format\n    }\n  }\n  errors {\n    code\n    message\n    createdAt\n  }\n  history {\n    status\n    at\n  }\n  result {\n    outputObjects {\n      tmpUrl\n      width\n      height\n      format\n      expiresAt\n    }\n  }\n}": typeof types.AiEditJobViewFragmentDoc,
    "subscription AiEditJobViewsUpdated($status: [AiEditJobStatus!], $ids: [ID!]) {\n  aiEditJobsUpdated(status: $status, ids: $ids) {\n    ...AiEditJobView\n  }\n}": typeof types.AiEditJobViewsUpdatedDocument,
    "subscription AiEditJobsUpdated($status: [AiEditJobStatus!], $ids: [ID!]) {\n  aiEditJobsUpdated(status: $status, ids: $ids) {\n    id\n    status\n    isFinal\n    createdAt\n    updatedAt\n    estimatedFinishAt\n    errors {\n      message\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n        expiresAt\n      }\n    }\n  }\n}": typeof types.AiEditJobsUpdatedDocument,
    "query ListAiEditJobViews($first: Int, $after: String, $status: [AiEditJobStatus!]) {\n  aiEditJobs(first: $first, after: $after, status: $status) {\n    edges {\n      cursor\n      node {\n        ...AiEditJobView\n      }\n    }\n    pageInfo {\n      endCursor\n      hasNextPage\n    }\n  }\n}": typeof types.ListAiEditJobViewsDocument,
    "query ListAiEditJobs($first: Int, $after: String, $status: [AiEditJobStatus!]) {\n  aiEditJobs(first: $first, after: $after, status: $status) {\n    edges {\n      cursor\n      node {\n        id\n        status\n        isFinal\n        createdAt\n      }\n    }\n    pageInfo {\n      endCursor\n      hasNextPage\n    }\n  }\n}": typeof types.ListAiEditJobsDocument,
    "query ReadAiEditJob($id: ID!) {\n  aiEditJob(id: $id) {\n    id\n    status\n    isFinal\n    updatedAt\n    errors {\n      message\n      createdAt\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n        format\n        expiresAt\n      }\n    }\n    history {\n      status\n      at\n    }\n  }\n}": typeof types.ReadAiEditJobDocument,
    "query ReadAiEditJobView($id: ID!) {\n  aiEditJob(id: $id) {\n    ...AiEditJobView\n  }\n}": typeof types.ReadAiEditJobViewDocument,
    "mutation SubmitAiEdit($input: SubmitAiEditInput!) {\n  submitAiEdit(input: $input) {\n    clientMutationId\n    job {\n      id\n      upstreamId\n      status\n      isFinal\n      createdAt\n    }\n  }\n}": typeof types.SubmitAiEditDocument,
    "mutation UploadImage($file: File!) {\n  uploadImage(file: $file) {\n    url\n    expiresAt\n    contentType\n    byteSize\n    width\n    height\n  }\n}": typeof types.UploadImageDocument,
};
const documents: Documents = {
    "subscription AiEditJobUpdated($id: ID!) {\n  aiEditJobUpdated(id: $id) {\n    id\n    status\n    isFinal\n    updatedAt\n    errors {\n      message\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n      }\n    }\n  }\n}": types.AiEditJobUpdatedDocument,
    "fragment AiEditJobView on AiEditJob {\n  id\n  status\n  isFinal\n  createdAt\n  updatedAt\n  estimatedFinishAt\n  queuePosition\n  request {\n    input\n    options {\n      prompt\n      model\n      aspectRatio\n    }\n    output {\n      numberOfImages\n      format\n    }\n  }\n  errors {\n    code\n    message\n    createdAt\n  }\n  history {\n    status\n    at\n  }\n  result {\n    outputObjects {\n      tmpUrl\n      width\n      height\n      format\n      expiresAt\n    }\n  }\n}": types.AiEditJobViewFragmentDoc,
    "subscription AiEditJobViewsUpdated($status: [AiEditJobStatus!], $ids: [ID!]) {\n  aiEditJobsUpdated(status: $status, ids: $ids) {\n    ...AiEditJobView\n  }\n}": types.AiEditJobViewsUpdatedDocument,
    "subscription AiEditJobsUpdated($status: [AiEditJobStatus!], $ids: [ID!]) {\n  aiEditJobsUpdated(status: $status, ids: $ids) {\n    id\n    status\n    isFinal\n    createdAt\n    updatedAt\n    estimatedFinishAt\n    errors {\n      message\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n        expiresAt\n      }\n    }\n  }\n}": types.AiEditJobsUpdatedDocument,
    "query ListAiEditJobViews($first: Int, $after: String, $status: [AiEditJobStatus!]) {\n  aiEditJobs(first: $first, after: $after, status: $status) {\n    edges {\n      cursor\n      node {\n        ...AiEditJobView\n      }\n    }\n    pageInfo {\n      endCursor\n      hasNextPage\n    }\n  }\n}": types.ListAiEditJobViewsDocument,
    "query ListAiEditJobs($first: Int, $after: String, $status: [AiEditJobStatus!]) {\n  aiEditJobs(first: $first, after: $after, status: $status) {\n    edges {\n      cursor\n      node {\n        id\n        status\n        isFinal\n        createdAt\n      }\n    }\n    pageInfo {\n      endCursor\n      hasNextPage\n    }\n  }\n}": types.ListAiEditJobsDocument,
    "query ReadAiEditJob($id: ID!) {\n  aiEditJob(id: $id) {\n    id\n    status\n    isFinal\n    updatedAt\n    errors {\n      message\n      createdAt\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n        format\n        expiresAt\n      }\n    }\n    history {\n      status\n      at\n    }\n  }\n}": types.ReadAiEditJobDocument,
    "query ReadAiEditJobView($id: ID!) {\n  aiEditJob(id: $id) {\n    ...AiEditJobView\n  }\n}": types.ReadAiEditJobViewDocument,
    "mutation SubmitAiEdit($input: SubmitAiEditInput!) {\n  submitAiEdit(input: $input) {\n    clientMutationId\n    job {\n      id\n      upstreamId\n      status\n      isFinal\n      createdAt\n    }\n  }\n}": types.SubmitAiEditDocument,
    "mutation UploadImage($file: File!) {\n  uploadImage(file: $file) {\n    url\n    expiresAt\n    contentType\n    byteSize\n    width\n    height\n  }\n}": types.UploadImageDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription AiEditJobUpdated($id: ID!) {\n  aiEditJobUpdated(id: $id) {\n    id\n    status\n    isFinal\n    updatedAt\n    errors {\n      message\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n      }\n    }\n  }\n}"): (typeof documents)["subscription AiEditJobUpdated($id: ID!) {\n  aiEditJobUpdated(id: $id) {\n    id\n    status\n    isFinal\n    updatedAt\n    errors {\n      message\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment AiEditJobView on AiEditJob {\n  id\n  status\n  isFinal\n  createdAt\n  updatedAt\n  estimatedFinishAt\n  queuePosition\n  request {\n    input\n    options {\n      prompt\n      model\n      aspectRatio\n    }\n    output {\n      numberOfImages\n      format\n    }\n  }\n  errors {\n    code\n    message\n    createdAt\n  }\n  history {\n    status\n    at\n  }\n  result {\n    outputObjects {\n      tmpUrl\n      width\n      height\n      format\n      expiresAt\n    }\n  }\n}"): (typeof documents)["fragment AiEditJobView on AiEditJob {\n  id\n  status\n  isFinal\n  createdAt\n  updatedAt\n  estimatedFinishAt\n  queuePosition\n  request {\n    input\n    options {\n      prompt\n      model\n      aspectRatio\n    }\n    output {\n      numberOfImages\n      format\n    }\n  }\n  errors {\n    code\n    message\n    createdAt\n  }\n  history {\n    status\n    at\n  }\n  result {\n    outputObjects {\n      tmpUrl\n      width\n      height\n      format\n      expiresAt\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription AiEditJobViewsUpdated($status: [AiEditJobStatus!], $ids: [ID!]) {\n  aiEditJobsUpdated(status: $status, ids: $ids) {\n    ...AiEditJobView\n  }\n}"): (typeof documents)["subscription AiEditJobViewsUpdated($status: [AiEditJobStatus!], $ids: [ID!]) {\n  aiEditJobsUpdated(status: $status, ids: $ids) {\n    ...AiEditJobView\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription AiEditJobsUpdated($status: [AiEditJobStatus!], $ids: [ID!]) {\n  aiEditJobsUpdated(status: $status, ids: $ids) {\n    id\n    status\n    isFinal\n    createdAt\n    updatedAt\n    estimatedFinishAt\n    errors {\n      message\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n        expiresAt\n      }\n    }\n  }\n}"): (typeof documents)["subscription AiEditJobsUpdated($status: [AiEditJobStatus!], $ids: [ID!]) {\n  aiEditJobsUpdated(status: $status, ids: $ids) {\n    id\n    status\n    isFinal\n    createdAt\n    updatedAt\n    estimatedFinishAt\n    errors {\n      message\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n        expiresAt\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ListAiEditJobViews($first: Int, $after: String, $status: [AiEditJobStatus!]) {\n  aiEditJobs(first: $first, after: $after, status: $status) {\n    edges {\n      cursor\n      node {\n        ...AiEditJobView\n      }\n    }\n    pageInfo {\n      endCursor\n      hasNextPage\n    }\n  }\n}"): (typeof documents)["query ListAiEditJobViews($first: Int, $after: String, $status: [AiEditJobStatus!]) {\n  aiEditJobs(first: $first, after: $after, status: $status) {\n    edges {\n      cursor\n      node {\n        ...AiEditJobView\n      }\n    }\n    pageInfo {\n      endCursor\n      hasNextPage\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ListAiEditJobs($first: Int, $after: String, $status: [AiEditJobStatus!]) {\n  aiEditJobs(first: $first, after: $after, status: $status) {\n    edges {\n      cursor\n      node {\n        id\n        status\n        isFinal\n        createdAt\n      }\n    }\n    pageInfo {\n      endCursor\n      hasNextPage\n    }\n  }\n}"): (typeof documents)["query ListAiEditJobs($first: Int, $after: String, $status: [AiEditJobStatus!]) {\n  aiEditJobs(first: $first, after: $after, status: $status) {\n    edges {\n      cursor\n      node {\n        id\n        status\n        isFinal\n        createdAt\n      }\n    }\n    pageInfo {\n      endCursor\n      hasNextPage\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ReadAiEditJob($id: ID!) {\n  aiEditJob(id: $id) {\n    id\n    status\n    isFinal\n    updatedAt\n    errors {\n      message\n      createdAt\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n        format\n        expiresAt\n      }\n    }\n    history {\n      status\n      at\n    }\n  }\n}"): (typeof documents)["query ReadAiEditJob($id: ID!) {\n  aiEditJob(id: $id) {\n    id\n    status\n    isFinal\n    updatedAt\n    errors {\n      message\n      createdAt\n    }\n    result {\n      outputObjects {\n        tmpUrl\n        width\n        height\n        format\n        expiresAt\n      }\n    }\n    history {\n      status\n      at\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ReadAiEditJobView($id: ID!) {\n  aiEditJob(id: $id) {\n    ...AiEditJobView\n  }\n}"): (typeof documents)["query ReadAiEditJobView($id: ID!) {\n  aiEditJob(id: $id) {\n    ...AiEditJobView\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SubmitAiEdit($input: SubmitAiEditInput!) {\n  submitAiEdit(input: $input) {\n    clientMutationId\n    job {\n      id\n      upstreamId\n      status\n      isFinal\n      createdAt\n    }\n  }\n}"): (typeof documents)["mutation SubmitAiEdit($input: SubmitAiEditInput!) {\n  submitAiEdit(input: $input) {\n    clientMutationId\n    job {\n      id\n      upstreamId\n      status\n      isFinal\n      createdAt\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UploadImage($file: File!) {\n  uploadImage(file: $file) {\n    url\n    expiresAt\n    contentType\n    byteSize\n    width\n    height\n  }\n}"): (typeof documents)["mutation UploadImage($file: File!) {\n  uploadImage(file: $file) {\n    url\n    expiresAt\n    contentType\n    byteSize\n    width\n    height\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;