// The API key of AUTH_MODE=apikey, kept for this tab only (sessionStorage): it is gone when the tab closes and is
// never written where another site or a later visitor could read it.

const STORAGE_KEY = 'ai-edit.apiKey';

export function storedApiKey(): string {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? '';
  } catch {
    return '';
  }
}

export function storeApiKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(STORAGE_KEY, key);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage refused (a private mode): the key still works for this page.
  }
}

/** The Authorization header the gateway expects, or none without a key. */
export function authHeaders(key: string): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}
