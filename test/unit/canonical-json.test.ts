import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/lib/canonical-json.js';

/** The definition canonicalJson is written out from: JSON.stringify with a replacer that sorts every object's keys. */
function byReplacer(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

describe('canonicalJson', () => {
  it('sorts keys at every depth, so equal values give equal text', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });

  it('writes what JSON.stringify writes: dates, absent values, odd numbers, a __proto__ key', () => {
    const value = JSON.parse('{"__proto__": {"b": 1, "a": 2}, "k": 1}') as object;
    const cases: unknown[] = [
      value,
      { at: new Date('2026-12-02T10:00:00.000Z'), gone: undefined, f: () => 1, list: [undefined, () => 1, Number.NaN] },
      { n: -0, inf: Number.POSITIVE_INFINITY, s: 'quote " and \u2028 and \ud800' },
      [],
      {},
      'text',
      null,
    ];
    for (const c of cases) expect(canonicalJson(c)).toBe(byReplacer(c));
  });

  it('agrees with the replacer definition on generated values', () => {
    fc.assert(
      fc.property(fc.anything({ withDate: true, withNullPrototype: true, withSparseArray: true }), (value) => {
        expect(canonicalJson(value)).toBe(byReplacer(value));
      }),
      { numRuns: 5000, seed: 16 },
    );
  });
});
