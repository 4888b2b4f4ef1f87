import { rmSync } from 'node:fs';
import { SqliteJobStore } from '../../src/services/store/sqlite-job-store.js';

// A caller's history stored before a benchmark times anything: a SQLite file holding `jobs` jobs of one owner, all
// created today (UTC), so that every per-caller check of a submit (credits of the day, unfinished jobs) has them to
// count. Written through the store itself, so that whatever the store keeps beside its rows is kept for these too.

export interface CallerHistory {
  jobs: number;
  /** Of them, DONE with a result: they cost their credits. */
  done: number;
  /** ERROR without a result: their credits are given back. */
  failed: number;
  /** Left PROCESSING: they count towards MAX_UNFINISHED_JOBS. */
  unfinished: number;
}

const RESULT = {
  inputObject: { ext: 'jpeg', width: 10, height: 10 },
  outputObjects: [{ ext: 'jpeg', tmpUrl: 'https://example.com/out.jpeg' }],
};

/** Removes `file` (and its WAL) and writes `history` for `owner` into a fresh store there. */
export async function writeCallerHistory(file: string, owner: string, history: CallerHistory): Promise<void> {
  removeSqliteFile(file);
  const store = new SqliteJobStore(file);
  try {
    await store.migrate();
    const now = Date.now();
    const dayStart = now - (now % 86_400_000);
    for (let i = 0; i < history.jobs; i++) {
      // Spread over the day so far, never before its start.
      const at = new Date(Math.max(dayStart, now - (history.jobs - i) * 10));
      const status = i < history.done ? 'DONE' : i < history.done + history.failed ? 'ERROR' : 'PROCESSING';
      await store.insert({
        owner,
        request: {
          input: 'storage://bench-bucket/input.jpg',
          output: { format: 'jpeg', numberOfImages: 1 },
          options: { prompt: `history #${i}` },
        },
        requestHash: `history-${i}`,
        idempotencyKey: null,
        upstream: {
          upstreamId: 1_000_000 + i,
          status,
          createdAt: at,
          errors: status === 'ERROR' ? [{ message: 'failed', createdAt: at }] : [],
          result: status === 'DONE' ? RESULT : null,
        },
        at,
      });
    }
  } finally {
    await store.close();
  }
}

export function removeSqliteFile(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}
