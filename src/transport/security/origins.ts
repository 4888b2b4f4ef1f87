// Which browser origins may call: the gateway's own origin, and the exact origins of CORS_ORIGINS.

/**
 * True when a request may proceed: no Origin header (not a browser, or a same-origin GET), the request's own host, or
 * an allowed origin. The literal "null" origin (sandboxed frames, file://) is never allowed.
 */
export function isOriginAllowed(
  origin: string | null | undefined,
  host: string | null | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === undefined || origin === null || origin === '') return true;
  const normalized = origin.toLowerCase();
  if (allowed.includes(normalized)) return true;
  try {
    const url = new URL(normalized);
    return host !== null && host !== undefined && url.host === host.toLowerCase();
  } catch {
    return false;
  }
}
