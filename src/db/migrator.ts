/**
 * Schema migrations: kysely's Migrator over the files of migrations/, run at start-up (and by
 * `npm run migrate`). Many replicas may start at once; they take turns on a session-level
 * advisory lock held around the whole run, so exactly one applies a migration and the others
 * find nothing left to do. (kysely 0.28 locks only the migration step itself, after creating
 * its bookkeeping tables outside any lock; 0.29 fixes that but needs Node 22.)
 */
import { setTimeout as delay } from "node:timers/promises";
import { readdir } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import type { Logger } from "../ops/logger.ts";

const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

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

/** Imports every .ts/.js file of `dir` (sorted by name); each must export `up` (and may export `down` and `check`). */
export function folderMigrations(dir: string = MIGRATIONS_DIR): MigrationProvider {
  return {
    async getMigrations() {
      const migrations: Record<string, Migration> = {};
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
  /** Default: the files of migrations/. */
  provider?: MigrationProvider;
  /**
   * Take the advisory lock on a connection of its own (default true). Needs a pool of at least
   * two connections; turn it off for a single-connection database.
   */
  lock?: boolean;
  /** How long to wait for another replica's migration (default 120 s). */
  lockTimeoutMs?: number;
}

/**
 * Brings the schema up to date and returns the names of the migrations it applied.
 * Throws MigrationError when a migration fails (kysely's migrateToLatest only returns the error).
 */
export async function migrateToLatest(db: Kysely<any>, log: Logger, options: MigrateOptions = {}): Promise<string[]> {
  const provider = options.provider ?? folderMigrations();
  const migrator = new Migrator({ db, provider });
  const run = async () => {
    // What a migration's check finds stops the run before kysely creates anything, its bookkeeping tables included.
    const { problems } = await checkPending(db, provider);
    if (problems.length > 0) {
      const first = problems[0]!.migration;
      throw new MigrationError(`migration ${first} cannot run on this database (nothing was changed):\n${problems.map((p) => `  - ${p.migration}: ${p.problem}`).join("\n")}`);
    }
    const { error, results = [] } = await migrator.migrateToLatest();
    for (const r of results) {
      if (r.status === "Success") log.info({ migration: r.migrationName }, "migration applied");
      if (r.status === "Error") log.error({ migration: r.migrationName }, "migration failed");
    }
    if (error) {
      const failed = results.find((r) => r.status === "Error")?.migrationName;
      const reason = error instanceof Error ? `: ${error.message}` : "";
      throw new MigrationError(`${failed ? `migration ${failed} failed` : "migrations failed"}${reason}`, { cause: error });
    }
    return results.filter((r) => r.status === "Success").map((r) => r.migrationName);
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

/** What `npm run migrate -- --check` reports: the migrations not yet applied, and what would stop each. */
export async function checkPending(db: Kysely<any>, provider: MigrationProvider = folderMigrations()): Promise<{ pending: string[]; problems: Array<{ migration: string; problem: string }> }> {
  const migrations = (await provider.getMigrations()) as Record<string, CheckedMigration>;
  const applied = new Set(
    await db
      .selectFrom("kysely_migration")
      .select("name")
      .execute()
      .then((rows) => rows.map((r) => String(r.name)))
      .catch(() => [] as string[]), // no bookkeeping table yet: nothing applied
  );
  const pending = Object.keys(migrations).sort().filter((name) => !applied.has(name));
  const problems: Array<{ migration: string; problem: string }> = [];
  for (const name of pending) {
    for (const problem of (await migrations[name]!.check?.(db)) ?? []) problems.push({ migration: name, problem });
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
