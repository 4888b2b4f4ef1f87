import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { printGatewaySchema } from './sdl.js';

export const SCHEMA_FILE = fileURLToPath(new URL('../../schema.graphql', import.meta.url));

/** Whether the committed schema.graphql is the schema the code builds (whitespace at the end aside). */
export async function isSchemaFileCurrent(path = SCHEMA_FILE): Promise<boolean> {
  const committed = await readFile(path, 'utf8').catch(() => '');
  return committed.trimEnd() === printGatewaySchema().trimEnd();
}
