/**
 * Opens the framework's database (src/db/postgres.ts): the embedded server when none is
 * configured, the migrations of every owner under the lock, then the pool. Loaded only when an
 * action needs the database (src/start-providers.ts).
 */
import type { Kysely } from "kysely";
import type { Config } from "../config.ts";
import type { Logger } from "../ops/logger.ts";
import { embeddedDatabase } from "../embedded.ts";
import { createDatabase } from "./database.ts";
import { migrateToLatest } from "./migrator.ts";
import type { MigrationSource } from "./migration-sources.ts";
import type { Postgres } from "./postgres.ts";

/** Connects (the embedded server when none is configured), migrates, and builds the pool. */
export async function openPostgres(config: Readonly<Config>, log: Logger, sources: readonly MigrationSource[]): Promise<{ value: Postgres; close(): Promise<void> }> {
  const embedded = config.database ? undefined : await embeddedDatabase(config, log);
  const url = config.database?.url ?? embedded!.url;
  try {
    await migrateWithOwnPool(url, log, sources);
  } catch (error) {
    await embedded?.release();
    throw error;
  }
  const db = createDatabase({ url, applicationName: config.serviceName }, log);
  return {
    value: { db, url },
    async close() {
      await db.destroy().catch(() => undefined);
      await embedded?.release();
    },
  };
}

/**
 * Migrations get a small pool of their own without the statement timeout: an index build may
 * take longer than any request may, and waiting for another replica's migration too.
 */
export async function migrateWithOwnPool(url: string, log: Logger, sources: readonly MigrationSource[]): Promise<void> {
  await withMigrationPool(url, log, (db) => migrateToLatest(db, log, { sources }));
}

/** `work` on a migrations' pool of its own (two connections, no statement timeout), closed after. */
export async function withMigrationPool<T>(url: string, log: Logger, work: (db: Kysely<any>) => Promise<T>): Promise<T> {
  const db = createDatabase({ url, poolMax: 2, statementTimeoutMs: 0 }, log);
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}
