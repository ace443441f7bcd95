/**
 * `vera-service migrate`: applies the pending migrations to the service's database and exits —
 * 0 when the schema is up to date, 1 when a migration failed, 2 on a usage or configuration
 * problem. Whose migrations: the framework's, those of the modules the app's actions use (the
 * account module's), then the app's own migrations/ — as the service runs them at start-up
 * (src/db/migrator.ts). The database is the one the service would use: DATABASE_URL (or
 * POSTGRES_*), else the embedded one under DATA_DIR; the first line says which. `--check`
 * changes nothing: it prints the pending migrations and what would stop them (a migration's
 * `check`), and exits 1 when something would.
 */
import path from "node:path";
import { parseCommandLine } from "./arguments.ts";
import { createLogger } from "../ops/logger.ts";
import { loadConfigOrExit } from "../ops/startup.ts";
import { EXIT_CODE } from "../ops/exit-codes.ts";
import { embeddedDatabase } from "../embedded.ts";
import { withMigrationPool } from "../db/open-postgres.ts";
import { describeDatabase } from "../db/describe-database.ts";
import { innermostMessage, isUnavailable } from "../db/errors.ts";
import { checkPending, migrateToLatest } from "../db/migrator.ts";
import { migrationSources } from "../start-providers.ts";
import { appProviders, builtOrSources, DIR_OPTION, openApp } from "./app-folder.ts";
import { printParseResult } from "./print.ts";

export const USAGE = `usage: vera-service migrate [--dir <folder>] [--check]
  Applies the pending migrations — the framework's, those of the modules the app uses (the
  account module's), then the app's migrations/ — to the service's database: DATABASE_URL (or
  POSTGRES_*), or with neither the embedded one under DATA_DIR (.data).
  --dir <folder>   the app (default: dist when it has been built, else .)
  --check          change nothing: print the pending migrations and what would stop them
                   (exit 1 when something would)
  -h, --help       this text`;

export async function migrate(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { usage: USAGE, options: { ...DIR_OPTION, check: { type: "boolean" } } });
  if (!parsed.ok) return printParseResult(parsed, USAGE);
  const { values } = parsed;
  if ((await openApp("migrate", values.dir, builtOrSources())) === undefined) return EXIT_CODE.usage;
  const config = loadConfigOrExit(undefined, process.stderr);
  // Logs on stderr: stdout is the command's own output.
  const log = createLogger({ level: config.env.LOG_LEVEL === undefined ? "warn" : config.logLevel, format: config.logFormat, destination: process.stderr, service: config.serviceName });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const where = config.database
    ? `${describeDatabase(config.database.url)} (${config.env.DATABASE_URL ? "DATABASE_URL" : "POSTGRES_*"})`
    : `the embedded database in ${path.resolve(config.dataDir, "postgres")} (no DATABASE_URL or POSTGRES_* set)`;
  const sources = migrationSources(await appProviders(config, log), config);
  say(values.check ? `checking ${where}; nothing will be changed` : `migrating ${where}`);
  const embedded = config.database ? undefined : await embeddedDatabase(config, log);
  try {
    return await withMigrationPool(config.database?.url ?? embedded!.url, log, async (db) => {
      if (values.check) {
        const { pending, problems } = await checkPending(db, sources);
        say(pending.length > 0 ? `pending migrations: ${pending.join(", ")}` : "schema up to date: nothing pending");
        for (const { migration, problem } of problems) say(`${migration}: ${problem}`);
        say(problems.length > 0 ? `${problems.length} problem(s): the migrations would stop; nothing was changed` : "no problems found; nothing was changed");
        return problems.length > 0 ? EXIT_CODE.failed : EXIT_CODE.ok;
      }
      const applied = await migrateToLatest(db, log, { sources });
      say(applied.length > 0 ? `applied ${applied.length} migration(s): ${applied.join(", ")}` : "schema already up to date");
      return EXIT_CODE.ok;
    });
  } catch (error) {
    // One plain line for a database that cannot be reached; the whole error for anything else.
    if (isUnavailable(error)) process.stderr.write(`vera-service migrate: cannot reach ${where}: ${innermostMessage(error)}\n`);
    else log.fatal({ err: error }, values.check ? "the check failed" : "migration failed");
    return EXIT_CODE.failed;
  } finally {
    await embedded?.release();
  }
}
