import type { StoredUpload } from '../../domain/upload.js';
import type { PostgresPool } from './postgres-pool.js';
import { UPLOAD_COLUMNS, type UploadRow, type UploadStore, uploadFromRow, uploadRowValues } from './upload-store.js';

/** Uploads in the PostgreSQL job store's schema (PostgresJobStore.uploads); `prefix` is the quoted schema and a dot. */
export class PostgresUploadStore implements UploadStore {
  constructor(
    private readonly pool: PostgresPool,
    private readonly prefix: string,
  ) {}

  async put(upload: StoredUpload, bytes: Uint8Array): Promise<void> {
    const p = this.prefix;
    await this.pool.transaction(async (client) => {
      await client.query(
        `INSERT INTO ${p}upload_contents (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING`,
        [upload.sha256, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
      );
      await client.query(
        `INSERT INTO ${p}uploads (${UPLOAD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (owner, sha256) DO NOTHING`,
        uploadRowValues(upload),
      );
    });
  }

  async get(owner: string, sha256: string): Promise<{ upload: StoredUpload; bytes: Buffer } | null> {
    const p = this.prefix;
    const { rows } = await this.pool.query<UploadRow>(
      `SELECT u.*, c.bytes FROM ${p}uploads u JOIN ${p}upload_contents c ON c.sha256 = u.sha256
       WHERE u.owner = $1 AND u.sha256 = $2`,
      [owner, sha256],
    );
    return rows[0] ? uploadFromRow(rows[0]) : null;
  }

  async secret(name: string, generate: () => string): Promise<string> {
    const p = this.prefix;
    await this.pool.query(
      `INSERT INTO ${p}gateway_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
      [name, generate(), Date.now()],
    );
    const { rows } = await this.pool.query<{ value: string }>(`SELECT value FROM ${p}gateway_secrets WHERE name = $1`, [
      name,
    ]);
    return rows[0]!.value;
  }
}
