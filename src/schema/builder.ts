import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import { encodeGlobalId, parseGlobalId, resolveNodeOfKnownType } from '../resolvers/ai-edit-jobs.js';
import type { GraphQLContext } from './context.js';

export interface PothosTypes {
  Context: GraphQLContext;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    /** A file of a multipart request (the GraphQL multipart request spec): input only. */
    File: { Input: File; Output: never };
  };
  DefaultFieldNullability: false;
}

export const builder = new SchemaBuilder<PothosTypes>({
  plugins: [RelayPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesQueryOptions: false,
    // Malformed ids are BAD_USER_INPUT naming `id`, and ids of other types null, as in aiEditJob.
    decodeGlobalID: (globalId) => parseGlobalId(globalId),
    encodeGlobalID: (typename, id) => encodeGlobalId(typename, id),
    nodeQueryOptions: {
      description: 'Fetches any object that has a global id. Null when the id is unknown or not yours.',
      args: { id: { description: 'The global id of the object.' } },
      resolve: (_root, args, _ctx, info, resolveNode) => resolveNodeOfKnownType(args.id, info.schema, resolveNode),
    },
    nodeTypeOptions: { description: 'An object with a globally unique, opaque id.' },
    idFieldOptions: { description: 'Opaque global id.' },
    pageInfoTypeOptions: { description: 'Where a page sits in a connection, for cursor pagination.' },
    hasNextPageFieldOptions: { description: 'Whether more items follow this page.' },
    hasPreviousPageFieldOptions: { description: 'Whether more items precede this page.' },
    startCursorFieldOptions: { description: 'Cursor of the first item in the page.' },
    endCursorFieldOptions: { description: 'Cursor of the last item in the page.' },
    edgesFieldOptions: { description: 'The items in the page, each with its cursor.' },
    pageInfoFieldOptions: { description: 'Cursors and whether more pages exist.' },
    cursorFieldOptions: { description: 'Pass as `after` or `before` to page from this item.' },
    nodeFieldOptions: { description: 'The item.' },
    firstArgOptions: { description: 'Take this many items from the start (at most 100; default 20).' },
    afterArgOptions: { description: 'Start after this cursor.' },
    lastArgOptions: { description: 'Take this many items from the end (at most 100).' },
    beforeArgOptions: { description: 'End before this cursor.' },
  },
});
