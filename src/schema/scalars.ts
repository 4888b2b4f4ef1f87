import { GraphQLError, Kind } from 'graphql';
import { ErrorCode } from '../domain/errors.js';
import { builder } from './builder.js';

function parseDateTime(value: unknown): Date {
  if (typeof value === 'string') {
    const date = new Date(value);
    if (!Number.isNaN(date.getTime()) && /^\d{4}-\d{2}-\d{2}T/.test(value)) return date;
  }
  throw new GraphQLError('DateTime must be an ISO 8601 date-time string such as 2025-03-13T11:37:09.160Z.', {
    extensions: { code: ErrorCode.BAD_USER_INPUT },
  });
}

builder.scalarType('DateTime', {
  description: 'A point in time, as an ISO 8601 string in UTC (2025-03-13T11:37:09.160Z).',
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

/** What Yoga's multipart parser puts where the request's map points: a web File (or Blob). */
function isFile(value: unknown): value is File {
  const file = value as Partial<File> | null;
  return typeof file?.arrayBuffer === 'function' && typeof file.size === 'number';
}

builder.scalarType('File', {
  description:
    'A file sent in a multipart request (the GraphQL multipart request spec, with a preflight header such as ' +
    'x-graphql-yoga-csrf); input only.',
  serialize: () => {
    throw new Error('File is an input-only scalar');
  },
  parseValue: (value) => {
    if (isFile(value)) return value;
    throw new GraphQLError('File must be a file sent as a part of a multipart request.', {
      extensions: { code: ErrorCode.BAD_USER_INPUT, field: 'file' },
    });
  },
  parseLiteral: () => {
    throw new GraphQLError('File cannot be written in the document: send it as a part of a multipart request.', {
      extensions: { code: ErrorCode.BAD_USER_INPUT, field: 'file' },
    });
  },
});
