/**
 * The framework's database, as a provider: `needs: [postgres]` and `ctx.get(postgres).db`. The
 * framework opens it when a loaded action needs it (src/start-providers.ts) — on DATABASE_URL
 * (or POSTGRES_*), else on the embedded PostgreSQL under DATA_DIR — after the app's migrations
 * (the framework's, the modules' and the app's: src/db/migrator.ts) have run under the migration lock. Unavailability surfaces as DependencyError (→ 503).
 * This module is the provider alone: pg and kysely load only when a database opens
 * (src/db/open-postgres.ts), so an app whose actions need none never loads them.
 */
import type { Kysely } from "kysely";
import { provider } from "../providers.ts";

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
