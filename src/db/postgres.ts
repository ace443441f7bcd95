/**
 * The framework's database, as a provider: `needs: [postgres]` and `ctx.get(postgres).db`. The
 * framework opens it when a loaded action needs it (src/start-providers.ts) — on DATABASE_URL
 * (or POSTGRES_*), else on the embedded PostgreSQL under DATA_DIR — after the app's migrations
 * (the framework's, the modules' and the app's: src/db/migrator.ts) have run under the migration lock. Unavailability surfaces as DependencyError (→ 503).
 */
import type { Kysely } from "kysely";
import type { Config } from "../config.ts";
import type { Logger } from "../ops/logger.ts";
import { provider } from "../providers.ts";
import { embeddedDatabase } from "../embedded.ts";
import { createDatabase } from "./database.ts";
import { migrateToLatest, type MigrationSource } from "./migrator.ts";

export interface Postgres {
  /** The kysely instance; type it with your tables: `ctx.get(postgres).db as Kysely<MyTables>`. */
  db: Kysely<any>;
  /** Where it is (DATABASE_URL, POSTGRES_*, or the embedded server): for a connection of one's own, such as the events relay's. Never log it. */
  url: string;
}

export const postgres = provider<Postgres>({
  name: "postgres",
  start() {
    throw new Error("the postgres provider is opened by the framework (src/start-providers.ts), not started on its own");
  },
});

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
  const db = createDatabase({ url, poolMax: 2, statementTimeoutMs: 0 }, log);
  try {
    await migrateToLatest(db, log, { sources });
  } finally {
    await db.destroy();
  }
}
