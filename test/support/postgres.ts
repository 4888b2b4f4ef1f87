import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresJobStore, type PostgresJobStoreOptions } from '../../src/services/store/postgres-job-store.js';

// PostgreSQL suites run when TEST_POSTGRES_URL names a database they may create schemas in, and are reported skipped
// otherwise. Locally: `TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test npm test`; .ci/run creates a
// fresh database for each run and sets it.

/** The database the PostgreSQL suites use, or undefined when they should be skipped. */
export const testPostgresUrl: string | undefined = process.env.TEST_POSTGRES_URL?.trim() || undefined;

/** A schema name no other test uses: `t_` and 12 random hex digits. */
export const freshSchemaName = (): string => `t_${randomBytes(6).toString('hex')}`;

/**
 * Hands out stores, each in a schema of its own, and drops those schemas again, so every test starts from an empty
 * database however many run at once. Call `dropSchemas()` after each test (after its stores are closed) and `end()`
 * after all of them.
 */
export class PostgresTestDatabase {
  readonly url: string;
  readonly #created = new Set<string>();
  #admin: pg.Pool | undefined;

  constructor(url: string) {
    this.url = url;
  }

  /** A connection pool outside any store, for inspecting and preparing the database. */
  get admin(): pg.Pool {
    this.#admin ??= new pg.Pool({ connectionString: this.url, max: 2 });
    return this.#admin;
  }

  /** A fresh schema name, remembered so that `dropSchemas` removes whatever a store creates in it. */
  newSchema(): string {
    const schema = freshSchemaName();
    this.#created.add(schema);
    return schema;
  }

  /** A store in `schema` (a fresh one by default), not yet migrated: like a gateway instance before it starts. */
  store(
    schema: string = this.newSchema(),
    options: Omit<PostgresJobStoreOptions, 'connectionString' | 'schema'> = {},
  ): PostgresJobStore {
    this.#created.add(schema);
    return new PostgresJobStore({ connectionString: this.url, schema, ...options });
  }

  /** A migrated store in a schema of its own. */
  async openStore(schema: string = this.newSchema()): Promise<PostgresJobStore> {
    const store = this.store(schema);
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /**
   * This database's URL with the connection's search_path set to `schema`, for code that opens a store from a URL
   * alone (createJobStore). The schema must exist first: create it with `createSchema`.
   */
  urlWithSearchPath(schema: string): string {
    const url = new URL(this.url);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return url.toString();
  }

  async createSchema(schema: string = this.newSchema()): Promise<string> {
    this.#created.add(schema);
    await this.admin.query(`CREATE SCHEMA "${schema}"`);
    return schema;
  }

  async dropSchemas(): Promise<void> {
    const schemas = [...this.#created];
    this.#created.clear();
    for (const schema of schemas) await this.admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }

  async end(): Promise<void> {
    await this.dropSchemas();
    await this.#admin?.end();
    this.#admin = undefined;
  }
}
