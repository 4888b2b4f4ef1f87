import { describe, expect, it } from 'vitest';
import { TurnBatcher } from '../../src/lib/turn-batcher.js';

/** A batcher over a fixed table that records every key list it was asked to load. */
function tableBatcher(table: Record<string, number>, maxKeys?: number) {
  const loads: string[][] = [];
  const batcher = new TurnBatcher<number>(async (keys) => {
    loads.push(keys);
    if (keys.includes('broken')) throw new Error('load failed');
    return new Map(keys.flatMap((key) => (key in table ? [[key, table[key]!] as const] : [])));
  }, maxKeys);
  return { batcher, loads };
}

describe('TurnBatcher', () => {
  it('answers every lookup of one turn from one load of the keys they asked for, each once', async () => {
    const { batcher, loads } = tableBatcher({ a: 1, b: 2, c: 3 });
    const answers = await Promise.all([
      batcher.get(['a']),
      batcher.get(['c', 'a', 'nope']),
      batcher.get([]),
      batcher.get(['b', 'b']),
    ]);
    expect(answers).toEqual([[1], [3, 1, null], [], [2, 2]]);
    expect(loads).toEqual([['a', 'c', 'nope', 'b']]);
  });

  it('loads again for lookups made in a later turn', async () => {
    const { batcher, loads } = tableBatcher({ a: 1 });
    expect(await batcher.get(['a'])).toEqual([1]);
    expect(await batcher.get(['a', 'x'])).toEqual([1, null]);
    expect(loads).toEqual([['a'], ['a', 'x']]);
  });

  it('splits a turn into loads of at most maxKeys; a failed load fails only the lookups whose keys it carried', async () => {
    const { batcher, loads } = tableBatcher({ a: 1, b: 2, c: 3 }, 2);
    const [first, second, third] = await Promise.allSettled([
      batcher.get(['a', 'b']),
      batcher.get(['c', 'broken']),
      batcher.get(['c']),
    ]);
    expect(loads).toEqual([
      ['a', 'b'],
      ['c', 'broken'],
    ]);
    expect(first).toEqual({ status: 'fulfilled', value: [1, 2] });
    expect(second).toMatchObject({ status: 'rejected', reason: { message: 'load failed' } });
    expect(third).toMatchObject({ status: 'rejected', reason: { message: 'load failed' } });
  });
});
