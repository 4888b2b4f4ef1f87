// A label value a client chooses (an operation name) is kept only while few distinct values have been seen, so that
// no caller can grow the series without bound; later newcomers share one value.

export const OTHER_LABEL = 'other';

export function boundedLabel(maxDistinct: number): (value: string | undefined, fallback: string) => string {
  const seen = new Set<string>();
  return (value, fallback) => {
    if (value === undefined || value === '') return fallback;
    if (seen.has(value)) return value;
    if (seen.size >= maxDistinct) return OTHER_LABEL;
    seen.add(value);
    return value;
  };
}
