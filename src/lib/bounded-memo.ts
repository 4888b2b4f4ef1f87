/**
 * Remembers a pure function's answers by string key, up to `max` of them; when full it starts over (a hostile
 * variety of keys costs a clear, never memory). For functions called with the same few keys on every request, such
 * as the global id of the job a frontend polls.
 */
export function boundedMemo<T>(compute: (key: string) => T, max = 10_000): (key: string) => T {
  const known = new Map<string, T>();
  return (key) => {
    const hit = known.get(key);
    if (hit !== undefined) return hit;
    const value = compute(key);
    if (known.size >= max) known.clear();
    known.set(key, value);
    return value;
  };
}
