/**
 * `npm run migrate`: applies pending migrations to the configured database and exits —
 * 0 when the schema is up to date, 1 when a migration failed, 2 on a configuration problem.
 * `npm run migrate -- --check` changes nothing: it prints the pending migrations and what would
 * stop them (a migration's `check`, src/db/migrator.ts), and exits 1 when something would.
 */
import { createLogger, flushLogs } from "../ops/logger.ts";
import { loadConfigOrExit } from "../ops/startup.ts";
import { createDatabase } from "./database.ts";
import { checkPending, migrateToLatest } from "./migrator.ts";

async function main(): Promise<number> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  if (!config.database) {
    log.fatal("no database configured: set DATABASE_URL or POSTGRES_HOST/_PORT/_USER/_PASSWORD/_DB");
    return 2;
  }
  const db = createDatabase({ url: config.database.url, poolMax: 2, statementTimeoutMs: 0 }, log);
  if (process.argv.includes("--check")) {
    try {
      const { pending, problems } = await checkPending(db);
      process.stdout.write(pending.length > 0 ? `pending migrations: ${pending.join(", ")}\n` : "schema up to date: nothing pending\n");
      for (const { migration, problem } of problems) process.stdout.write(`${migration}: ${problem}\n`);
      process.stdout.write(problems.length > 0 ? `${problems.length} problem(s): the migrations would stop; nothing was changed\n` : "no problems found; nothing was changed\n");
      return problems.length > 0 ? 1 : 0;
    } catch (error) {
      log.fatal({ err: error }, "the check failed");
      return 1;
    } finally {
      await db.destroy();
    }
  }
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
