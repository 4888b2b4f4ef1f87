import type { Logger } from '../../lib/logger.js';
import type { JobStore } from './job-store.js';
import { PostgresJobStore } from './postgres-job-store.js';
import { SqliteJobStore } from './sqlite-job-store.js';

/**
 * Opens the store named by DATABASE_URL and brings its schema up to date.
 * `sqlite::memory:` -> in-memory SQLite, `sqlite:<path>` -> SQLite file, `postgres://…` or `postgresql://…` ->
 * PostgreSQL (tables in the connection's search_path, normally `public`; migrated under an advisory lock, so
 * several instances may start at once).
 * Error messages name the scheme only: the URL may carry a password.
 */
export async function createJobStore(databaseUrl: string, options: { logger?: Logger } = {}): Promise<JobStore> {
  const store = openJobStore(databaseUrl, options.logger);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

function openJobStore(databaseUrl: string, logger: Logger | undefined): JobStore {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    if (path === '')
      throw new Error('DATABASE_URL: sqlite: needs a path, e.g. sqlite:./data/gateway.db or sqlite::memory:');
    return new SqliteJobStore(path);
  }
  if (/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    return new PostgresJobStore({ connectionString: databaseUrl, logger });
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(databaseUrl)?.[1];
  throw new Error(
    `DATABASE_URL: unsupported ${scheme ? `scheme "${scheme}:"` : 'value'}; use sqlite:<path>, sqlite::memory: or postgres://…`,
  );
}
