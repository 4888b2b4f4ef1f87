import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, type StatsListener, unwatchFile, watchFile } from 'node:fs';

// API keys as `name:key` pairs. Only SHA-256 digests of the keys are kept, and a presented key is compared with
// every digest in constant time, so neither the comparison nor an early exit tells an attacker how close they were.

export interface ApiKeyEntry {
  name: string;
  digest: Buffer;
  /** This caller's MAX_CREDITS_PER_DAY (`maxCreditsPerDay=N` after the key); absent: the gateway's. */
  maxCreditsPerDay?: number;
}

/** Options a key may carry after it, separated by spaces: `name:key maxCreditsPerDay=500`. */
const OPTION = /^(maxCreditsPerDay)=(\d{1,9})$/;

export class ApiKeyFormatError extends Error {
  override name = 'ApiKeyFormatError';
}

const NAME = /^[A-Za-z0-9._@-]{1,128}$/;
/** The owner of every job made under AUTH_MODE=none: no key may carry it, or its caller would share those jobs. */
export const ANONYMOUS_NAME = 'anonymous';

/**
 * Parses `name:key` pairs separated by commas or new lines; blank lines and lines starting with `#` are skipped.
 * The key is what follows the first colon up to the first space; after it, options (`maxCreditsPerDay=500`).
 * Throws an ApiKeyFormatError naming the bad entry (never the key).
 */
export function parseApiKeys(text: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const seen = new Set<string>();
  const items = text
    .split(/\r?\n/)
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((item) => item.trim())
    .filter(Boolean);
  items.forEach((item, index) => {
    const colon = item.indexOf(':');
    const name = colon < 0 ? item : item.slice(0, colon).trim();
    const [key = '', ...options] =
      colon < 0
        ? []
        : item
            .slice(colon + 1)
            .trim()
            .split(/\s+/);
    if (!NAME.test(name))
      throw new ApiKeyFormatError(`entry ${index + 1}: the name must be 1-128 of A-Z a-z 0-9 . _ @ -`);
    if (name === ANONYMOUS_NAME)
      throw new ApiKeyFormatError(`entry ${index + 1}: the name ${name} is reserved for the caller of AUTH_MODE=none`);
    if (key.length < 8)
      throw new ApiKeyFormatError(`entry ${index + 1} (${name}): the key must be at least 8 characters`);
    const digest = digestOf(key);
    const hex = digest.toString('hex');
    if (seen.has(hex)) throw new ApiKeyFormatError(`entry ${index + 1} (${name}): the same key is listed twice`);
    seen.add(hex);
    const entry: ApiKeyEntry = { name, digest };
    for (const option of options) {
      const match = OPTION.exec(option);
      if (!match || Number(match[2]) < 1)
        throw new ApiKeyFormatError(
          `entry ${index + 1} (${name}): unknown option after the key (only maxCreditsPerDay=<whole number >= 1>)`,
        );
      entry.maxCreditsPerDay = Number(match[2]);
    }
    entries.push(entry);
  });
  return entries;
}

function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The owner name for a presented key, or null. Looks at every entry whatever the outcome. */
function matchApiKey(entries: readonly ApiKeyEntry[], presented: string): string | null {
  const digest = digestOf(presented);
  let match: string | null = null;
  for (const entry of entries) {
    if (timingSafeEqual(entry.digest, digest) && match === null) match = entry.name;
  }
  return match;
}

export interface ApiKeyRegistryOptions {
  /** Keys given inline (GATEWAY_API_KEYS). */
  inline?: string | undefined;
  /** A file of keys (GATEWAY_API_KEYS_FILE), re-read on SIGHUP and when it changes. */
  file?: string | undefined;
  /** How often the file's mtime is checked; default 1000 ms. */
  watchIntervalMs?: number;
  onReload?: (result: { ok: true; count: number } | { ok: false; error: Error }) => void;
}

/** The current set of keys: inline keys plus the file's, which can be reloaded while the gateway runs. */
export class ApiKeyRegistry {
  private readonly inline: ApiKeyEntry[];
  private fromFile: ApiKeyEntry[] = [];
  private readonly onSighup = () => this.reload();
  private readonly onFileChange: StatsListener = (curr, prev) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) this.reload();
  };

  /** Throws (ApiKeyFormatError or a file error) when the initial keys are unusable. */
  constructor(private readonly options: ApiKeyRegistryOptions) {
    this.inline = options.inline ? parseApiKeys(options.inline) : [];
    if (options.file) {
      this.fromFile = parseApiKeys(readFileSync(options.file, 'utf8'));
      watchFile(options.file, { interval: options.watchIntervalMs ?? 1000, persistent: false }, this.onFileChange);
      process.on('SIGHUP', this.onSighup);
    }
  }

  /**
   * Re-reads the key file. A file that cannot be read or parsed leaves the previous keys in place (and is reported),
   * so that a half-written file never locks every caller out; a valid file replaces them, so a removed key is refused.
   */
  reload(): boolean {
    if (!this.options.file) return true;
    try {
      this.fromFile = parseApiKeys(readFileSync(this.options.file, 'utf8'));
      this.options.onReload?.({ ok: true, count: this.fromFile.length });
      return true;
    } catch (error) {
      this.options.onReload?.({ ok: false, error: error as Error });
      return false;
    }
  }

  match(presented: string): string | null {
    const inline = matchApiKey(this.inline, presented);
    const fromFile = matchApiKey(this.fromFile, presented);
    return inline ?? fromFile;
  }

  /** The MAX_CREDITS_PER_DAY a caller's key carries (the first of its keys that carries one), if any. */
  maxCreditsPerDayOf(name: string): number | undefined {
    return [...this.inline, ...this.fromFile].find((e) => e.name === name && e.maxCreditsPerDay !== undefined)
      ?.maxCreditsPerDay;
  }

  close(): void {
    if (!this.options.file) return;
    unwatchFile(this.options.file, this.onFileChange);
    process.off('SIGHUP', this.onSighup);
  }
}
