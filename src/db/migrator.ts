/**
 * Schema migrations: kysely's Migrator over folders of migration files, run at start-up (and by
 * `vera-service migrate`). Each owner ships its own and keeps its own bookkeeping table
 * (`vera_<owner>_migration`): the framework's (src/migrations/: the domain events' outbox, …),
 * then a module's such as the account module's (its provider names them), then the app's own
 * (its migrations/ folder), in that order, each in name order. Many replicas may start at once;
 * they take turns on a session-level advisory lock held around the whole run, so exactly one
 * applies a migration and the others find nothing left to do. (kysely 0.28 locks only the
 * migration step itself, after creating its bookkeeping tables outside any lock; 0.29 fixes that
 * but needs Node 22.)
 */
import { setTimeout as delay } from "node:timers/promises";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { extname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import type { Logger } from "../ops/logger.ts";

import { adoptCombinedBookkeeping } from "./combined-bookkeeping.ts";

import { FRAMEWORK_MIGRATIONS, type MigrationSource } from "./migration-sources.ts";

export { FRAMEWORK_MIGRATIONS, type MigrationSource };

const tableOf = (owner: string) => `vera_${owner}_migration`;

/** Arbitrary but fixed: the advisory-lock key every replica of this service agrees on. */
const MIGRATION_LOCK_KEY = 0x7665_7261; // "vera"

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MigrationError";
  }
}

/**
 * A migration may also export `check(db)`: the problems that would stop it on this database, found
 * without changing anything (`npm run migrate -- --check` prints them; `up` should refuse on them).
 */
export interface CheckedMigration extends Migration {
  check?(db: Kysely<any>): Promise<string[]>;
}

/** Imports every .ts/.js file of `dir` (sorted by name); each must export `up` (and may export `down` and `check`). No folder: none. */
export function folderMigrations(dir: string): MigrationProvider {
  return {
    async getMigrations() {
      const migrations: Record<string, Migration> = {};
      if (!existsSync(dir)) return migrations;
      const files = (await readdir(dir)).filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith(".d.ts")).sort();
      for (const file of files) {
        const module = (await import(pathToFileURL(join(dir, file)).href)) as Partial<Migration>;
        if (typeof module.up !== "function") throw new MigrationError(`migration ${file} exports no up() function`);
        migrations[file.slice(0, -extname(file).length)] = module as Migration;
      }
      return migrations;
    },
  };
}

export interface MigrateOptions {
  /** Default: the framework's alone. */
  sources?: readonly MigrationSource[];
  /**
   * Take the advisory lock on a connection of its own (default true). Needs a pool of at least
   * two connections; turn it off for a single-connection database.
   */
  lock?: boolean;
  /** How long to wait for another replica's migration (default 120 s). */
  lockTimeoutMs?: number;
}

/**
 * Brings the schema up to date and returns the migrations it applied, as `<owner>/<name>`.
 * Throws MigrationError when a migration fails (kysely's migrateToLatest only returns the error).
 */
export async function migrateToLatest(db: Kysely<any>, log: Logger, options: MigrateOptions = {}): Promise<string[]> {
  const sources = options.sources ?? [FRAMEWORK_MIGRATIONS];
  for (const source of sources) if (!/^[a-z][a-z0-9_]*$/.test(source.owner)) throw new MigrationError(`migration owner "${source.owner}": lower-case letters, digits and _ only`);
  const run = async () => {
    // A database migrated before the owners were split keeps its history (src/db/combined-bookkeeping.ts).
    await adoptCombinedBookkeeping(db, log);
    // What a migration's check finds stops the run before kysely creates anything, its bookkeeping tables included.
    const { problems } = await checkPending(db, sources);
    if (problems.length > 0) {
      const first = problems[0]!.migration;
      throw new MigrationError(`migration ${first} cannot run on this database (nothing was changed):\n${problems.map((p) => `  - ${p.migration}: ${p.problem}`).join("\n")}`);
    }
    const applied: string[] = [];
    for (const source of sources) {
      const migrator = new Migrator({ db, provider: folderMigrations(source.dir), migrationTableName: tableOf(source.owner), migrationLockTableName: `${tableOf(source.owner)}_lock` });
      const { error, results = [] } = await migrator.migrateToLatest();
      for (const r of results) {
        const name = `${source.owner}/${r.migrationName}`;
        if (r.status === "Success") log.info({ migration: name }, "migration applied");
        if (r.status === "Error") log.error({ migration: name }, "migration failed");
      }
      if (error) {
        const failed = results.find((r) => r.status === "Error")?.migrationName;
        const reason = error instanceof Error ? `: ${error.message}` : "";
        throw new MigrationError(`${failed ? `migration ${source.owner}/${failed} failed` : `the ${source.owner} migrations failed`}${reason}`, { cause: error });
      }
      applied.push(...results.filter((r) => r.status === "Success").map((r) => `${source.owner}/${r.migrationName}`));
    }
    return applied;
  };
  if (options.lock === false) return run();
  return db.connection().execute(async (conn) => {
    await acquireLock(conn, options.lockTimeoutMs ?? 120_000, log);
    try {
      return await run();
    } finally {
      // A failed unlock must not hide the migration's own error; the session's end frees the lock anyway.
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`.execute(conn).catch((error: unknown) => {
        log.warn({ reason: error instanceof Error ? error.message : String(error) }, "could not release the migration lock");
      });
    }
  });
}

/** What `vera-service migrate --check` reports: the migrations not yet applied (`<owner>/<name>`), and what would stop each. */
export async function checkPending(db: Kysely<any>, sources: readonly MigrationSource[] = [FRAMEWORK_MIGRATIONS]): Promise<{ pending: string[]; problems: Array<{ migration: string; problem: string }> }> {
  const pending: string[] = [];
  const problems: Array<{ migration: string; problem: string }> = [];
  for (const source of sources) {
    const migrations = (await folderMigrations(source.dir).getMigrations()) as Record<string, CheckedMigration>;
    const applied = new Set(
      await db
        .selectFrom(tableOf(source.owner))
        .select("name")
        .execute()
        .then((rows) => rows.map((r) => String(r.name)))
        .catch(() => [] as string[]), // no bookkeeping table yet: nothing applied
    );
    for (const name of Object.keys(migrations).sort().filter((n) => !applied.has(n))) {
      const qualified = `${source.owner}/${name}`;
      pending.push(qualified);
      for (const problem of (await migrations[name]!.check?.(db)) ?? []) problems.push({ migration: qualified, problem });
    }
  }
  return { pending, problems };
}

/**
 * Polls pg_try_advisory_lock rather than blocking in pg_advisory_lock, so the wait is bounded
 * by our own deadline and not cut short by the statement timeout.
 */
async function acquireLock(conn: Kysely<any>, timeoutMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let logged = false;
  for (;;) {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${MIGRATION_LOCK_KEY}::bigint) as locked`.execute(conn);
    if (rows[0]?.locked) return;
    if (Date.now() > deadline) throw new MigrationError(`gave up waiting ${timeoutMs} ms for the migration lock`);
    if (!logged) log.info("waiting for another replica to finish migrating");
    logged = true;
    await delay(100 + Math.random() * 150);
  }
}
