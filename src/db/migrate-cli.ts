/**
 * `npm run migrate`: applies pending migrations to the configured database and exits —
 * 0 when the schema is up to date, 1 when a migration failed, 2 on a configuration problem.
 */
import { createLogger, flushLogs } from "../ops/logger.ts";
import { loadConfigOrExit } from "../ops/startup.ts";
import { createDatabase } from "./database.ts";
import { migrateToLatest } from "./migrator.ts";

async function main(): Promise<number> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  if (!config.database) {
    log.fatal("no database configured: set DATABASE_URL or POSTGRES_HOST/_PORT/_USER/_PASSWORD/_DB");
    return 2;
  }
  const db = createDatabase({ url: config.database.url, poolMax: 2, statementTimeoutMs: 0 }, log);
  try {
    const applied = await migrateToLatest(db, log);
    log.info({ applied }, applied.length > 0 ? `applied ${applied.length} migration(s)` : "schema already up to date");
    return 0;
  } catch (error) {
    log.fatal({ err: error }, "migration failed");
    return 1;
  } finally {
    await db.destroy();
  }
}

const code = await main();
flushLogs();
process.exit(code);
