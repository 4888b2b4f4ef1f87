import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { JobStatus } from '../domain/job.js';
import { nextTaskId, type OutputFile, type SimTask, type TaskOutcome, type TaskStore } from './task-store.js';

// The simulator's tasks and output images in one SQLite file under its data directory, images as blobs: a restart
// answers for the same tasks with the same bytes, and never hands out an id twice.

/** Claid keeps a temporary result URL for 24 h (claid-facts.md); the bytes are kept a day longer, then dropped. */
const OUTPUT_RETENTION_MS = 48 * 60 * 60 * 1000;

interface TaskRow {
  id: number;
  created_at: number;
  request: string;
  params: string;
  generation: SimTask['generation'];
  failure: string | null;
  result: string | null;
  reported: JobStatus;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    request TEXT NOT NULL,
    params TEXT NOT NULL,
    generation TEXT NOT NULL,
    failure TEXT,
    result TEXT,
    reported TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS tasks_pending ON tasks (generation) WHERE generation = 'pending';
  CREATE TABLE IF NOT EXISTS outputs (
    task_id INTEGER NOT NULL,
    file TEXT NOT NULL,
    mime TEXT NOT NULL,
    body BLOB NOT NULL,
    stored_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, file)
  );
  CREATE INDEX IF NOT EXISTS outputs_stored_at ON outputs (stored_at);
`;

function rowToTask(row: TaskRow): SimTask {
  const failure = row.failure === null ? undefined : (JSON.parse(row.failure) as { message: string; at: number });
  return {
    id: row.id,
    createdAt: new Date(row.created_at),
    request: JSON.parse(row.request) as unknown,
    params: JSON.parse(row.params) as SimTask['params'],
    generation: row.generation,
    failure: failure && { message: failure.message, at: new Date(failure.at) },
    result: row.result === null ? undefined : (JSON.parse(row.result) as SimTask['result']),
    reported: row.reported,
  };
}

export class SqliteTaskStore implements TaskStore {
  readonly file: string;
  private readonly db: Database.Database;
  private highestId: number;

  /** Opens (creating when missing) `<dataDir>/simulator.db`; throws when another simulator has it open. */
  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.file = join(dataDir, 'simulator.db');
    // Fail fast rather than wait on a file another simulator holds.
    this.db = new Database(this.file, { timeout: 500 });
    try {
      // Two simulators on one directory would run each other's tasks: the first one holds the file for itself.
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.exec(SCHEMA);
    } catch (error) {
      this.db.close();
      if ((error as { code?: string }).code === 'SQLITE_BUSY')
        throw new Error(`The simulator data directory ${dataDir} is in use by another simulator`);
      throw error;
    }
    const max = this.db.prepare('SELECT MAX(id) AS max FROM tasks').get() as { max: number | null };
    this.highestId = max.max ?? 0;
    this.pruneOutputs();
  }

  allocateId(now = Date.now()): number {
    this.highestId = nextTaskId(this.highestId, now);
    return this.highestId;
  }

  insert(task: SimTask): void {
    this.db
      .prepare(
        `INSERT INTO tasks (id, created_at, request, params, generation, failure, result, reported)
         VALUES (@id, @created_at, @request, @params, @generation, @failure, @result, @reported)`,
      )
      .run({
        id: task.id,
        created_at: task.createdAt.getTime(),
        request: JSON.stringify(task.request),
        params: JSON.stringify(task.params),
        generation: task.generation,
        failure: task.failure ? JSON.stringify({ message: task.failure.message, at: task.failure.at.getTime() }) : null,
        result: task.result ? JSON.stringify(task.result) : null,
        reported: task.reported,
      });
  }

  get(id: number): SimTask | undefined {
    const row = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as TaskRow | undefined;
    return row && rowToTask(row);
  }

  report(id: number, status: JobStatus): void {
    this.db.prepare('UPDATE tasks SET reported = ? WHERE id = ? AND reported <> ?').run(status, id, status);
  }

  finish(id: number, outcome: TaskOutcome): void {
    const failure = outcome.failure
      ? JSON.stringify({ message: outcome.failure.message, at: outcome.failure.at.getTime() })
      : null;
    this.db
      .prepare('UPDATE tasks SET generation = ?, failure = ?, result = ? WHERE id = ?')
      .run(outcome.generation, failure, outcome.result ? JSON.stringify(outcome.result) : null, id);
  }

  unfinished(): SimTask[] {
    const rows = this.db.prepare(`SELECT * FROM tasks WHERE generation = 'pending' ORDER BY id`).all() as TaskRow[];
    return rows.map(rowToTask);
  }

  putOutput(taskId: number, file: string, output: OutputFile): void {
    this.db
      .prepare('INSERT OR REPLACE INTO outputs (task_id, file, mime, body, stored_at) VALUES (?, ?, ?, ?, ?)')
      .run(taskId, file, output.mime, output.body, Date.now());
    this.pruneOutputs();
  }

  getOutput(taskId: number, file: string): OutputFile | undefined {
    const row = this.db.prepare('SELECT mime, body FROM outputs WHERE task_id = ? AND file = ?').get(taskId, file) as
      | { mime: string; body: Buffer }
      | undefined;
    return row && { mime: row.mime, body: row.body };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private pruneOutputs(): void {
    this.db.prepare('DELETE FROM outputs WHERE stored_at < ?').run(Date.now() - OUTPUT_RETENTION_MS);
  }
}
