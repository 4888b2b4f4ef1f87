import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The README's operations, taken from the README itself so that the browser suite runs what a new user copies.

const readme = readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8');

/** The ```graphql blocks of the README section under `heading` (a `## ` heading), in order. */
function graphqlBlocks(heading: string): string[] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`README has no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const [firstEdit, firstQuery, firstSubscription] = graphqlBlocks('A first edit');

/** The README's sample input; a test substitutes its own simulator's. */
export const README_SAMPLE_URL = 'http://127.0.0.1:4010/samples/living-room.jpg';
export const README_ID_PLACEHOLDER = '<the id>';

export const readmeOperations = {
  firstEdit: firstEdit!,
  firstQuery: firstQuery!,
  firstSubscription: firstSubscription!,
};
