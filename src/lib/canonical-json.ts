/**
 * JSON with object keys sorted, so equal values always give equal text and can be compared or hashed as strings.
 * The same text as JSON.stringify with a key-sorting replacer (test/unit/canonical-json.test.ts holds it to that),
 * written out because it runs several times on every submit (the request's fingerprint, the stored request and
 * history) and the replacer's copy of every object was a visible share of a submit's CPU.
 */
export function canonicalJson(value: unknown): string {
  // JSON.stringify's answer for a value that has no JSON text (undefined, a function, a symbol).
  return write(value, '') as string;
}

function write(input: unknown, key: string): string | undefined {
  let value = input;
  if (value !== null && (typeof value === 'object' || typeof value === 'bigint')) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = toJSON.call(value, key);
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += write(value[i], String(i)) ?? 'null';
    }
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const k of sortedKeys(object)) {
    const text = write(object[k], k);
    if (text === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${text}`;
    first = false;
  }
  return `${out}}`;
}

const ARRAY_INDEX = /^(?:0|[1-9]\d*)$/;
const isArrayIndex = (key: string): boolean => ARRAY_INDEX.test(key) && Number(key) < 2 ** 32 - 1;

/**
 * Sorted keys in the order the replacer's sorted copy enumerated them: an object lists array-index keys ("0", "7")
 * first in numeric order, whatever order they were added in, then the rest as added (here, sorted).
 */
function sortedKeys(object: object): string[] {
  const keys = Object.keys(object).sort();
  if (!keys.some(isArrayIndex)) return keys;
  const indexes = keys.filter(isArrayIndex).sort((a, b) => Number(a) - Number(b));
  return [...indexes, ...keys.filter((k) => !isArrayIndex(k))];
}
