/** For zod's preprocess on environment variables: a blank value counts as unset, so its default applies. */
export function emptyToUndefined(value: unknown): unknown {
  return typeof value === 'string' && value.trim() === '' ? undefined : value;
}
