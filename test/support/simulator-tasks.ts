import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Every task a simulator started with `dataDir` holds, in the order it took them, with the prompt each was submitted
 * with. The simulator holds its file exclusively while it runs: read it once the simulator is closed.
 */
export function simulatorTasks(dataDir: string): { id: number; prompt: string }[] {
  const db = new Database(join(dataDir, 'simulator.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT id, request FROM tasks ORDER BY id').all() as { id: number; request: string }[];
    return rows.map((r) => ({
      id: r.id,
      prompt: (JSON.parse(r.request) as { options: { prompt: string } }).options.prompt,
    }));
  } finally {
    db.close();
  }
}
