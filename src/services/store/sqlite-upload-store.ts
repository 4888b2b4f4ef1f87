import type Database from 'better-sqlite3';
import type { StoredUpload } from '../../domain/upload.js';
import { UPLOAD_COLUMNS, type UploadRow, type UploadStore, uploadFromRow, uploadRowValues } from './upload-store.js';

/** Uploads in the SQLite job store's database (SqliteJobStore.uploads). */
export class SqliteUploadStore implements UploadStore {
  constructor(private readonly db: Database.Database) {}

  async put(upload: StoredUpload, bytes: Uint8Array): Promise<void> {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO upload_contents (sha256, bytes) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING')
        .run(upload.sha256, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      this.db
        .prepare(
          `INSERT INTO uploads (${UPLOAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (owner, sha256) DO NOTHING`,
        )
        .run(...uploadRowValues(upload));
    })();
  }

  async get(owner: string, sha256: string): Promise<{ upload: StoredUpload; bytes: Buffer } | null> {
    const row = this.db
      .prepare(
        `SELECT u.*, c.bytes FROM uploads u JOIN upload_contents c ON c.sha256 = u.sha256
         WHERE u.owner = ? AND u.sha256 = ?`,
      )
      .get(owner, sha256) as UploadRow | undefined;
    return row ? uploadFromRow(row) : null;
  }

  async secret(name: string, generate: () => string): Promise<string> {
    this.db
      .prepare('INSERT INTO gateway_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING')
      .run(name, generate(), Date.now());
    const row = this.db.prepare('SELECT value FROM gateway_secrets WHERE name = ?').get(name) as { value: string };
    return row.value;
  }
}
