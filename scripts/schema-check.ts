import { isSchemaFileCurrent, SCHEMA_FILE } from '../src/schema/schema-file.js';

if (await isSchemaFileCurrent()) {
  console.log(`${SCHEMA_FILE} is current.`);
} else {
  console.error(`${SCHEMA_FILE} is stale: run \`npm run codegen\` and commit the result.`);
  process.exitCode = 1;
}
