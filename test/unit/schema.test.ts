import {
  type GraphQLNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { isSchemaFileCurrent } from '../../src/schema/schema-file.js';

function undocumented(type: GraphQLNamedType): string[] {
  const missing: string[] = [];
  if (!type.description) missing.push(type.name);
  if (isObjectType(type) || isInterfaceType(type)) {
    for (const field of Object.values(type.getFields())) {
      if (!field.description) missing.push(`${type.name}.${field.name}`);
      for (const arg of field.args) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
    }
  }
  if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields()))
      if (!field.description) missing.push(`${type.name}.${field.name}`);
  }
  if (isEnumType(type)) {
    for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
  }
  return missing;
}

describe('schema', () => {
  it('documents every type, field, argument and enum value', () => {
    const types = Object.values(schema.getTypeMap()).filter(
      (t) => !t.name.startsWith('__') && !(isScalarType(t) && isSpecifiedScalarType(t)),
    );
    expect(types.length).toBeGreaterThan(15);
    expect(types.flatMap(undocumented)).toEqual([]);
  });

  it('has the contract names', () => {
    const query = schema.getQueryType()!.getFields();
    expect(Object.keys(query).sort()).toEqual(['aiEditJob', 'aiEditJobs', 'node', 'viewer']);
    expect(String(query.aiEditJobs!.type)).toBe('AiEditJobConnection!');
    expect(query.aiEditJobs!.args.map((a) => a.name).sort()).toEqual(['after', 'before', 'first', 'last', 'status']);
    expect(String(schema.getMutationType()!.getFields().submitAiEdit!.type)).toBe('SubmitAiEditPayload!');
    expect(String(schema.getMutationType()!.getFields().rotateWebhookSecret!.type)).toBe('String!');
    const job = schema.getType('AiEditJob');
    expect(isObjectType(job) && job.getInterfaces().map((i) => i.name)).toEqual(['Node']);
    const status = schema.getType('AiEditJobStatus');
    expect(isEnumType(status) && status.getValues().map((v) => v.name)).toEqual([
      'QUEUED',
      'ACCEPTED',
      'WAITING',
      'PROCESSING',
      'DONE',
      'ERROR',
      'CANCELLED',
      'PAUSED',
    ]);
  });

  it('schema.graphql is the schema the code builds (npm run schema:check)', async () => {
    expect(await isSchemaFileCurrent()).toBe(true);
  });
});
