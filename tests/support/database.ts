/**
 * PostgreSQL for the tests. tests/run.ts calls startTestDatabase() once: DATABASE_URL (or
 * TEST_DATABASE_URL) when set, else an ephemeral cluster from the system binaries (initdb and
 * pg_ctl on PATH or under /usr/lib/postgresql/<version>/bin), started in a temp dir on a free
 * port, as the `postgres` OS user when running as root. The admin URL reaches the test files
 * as TEST_DATABASE_URL; each file makes its own databases from it with createTestDatabase(),
 * so files run in parallel in isolation. A test that needs to stop PostgreSQL starts a
 * private cluster with startCluster().
 *
 * With neither DATABASE_URL nor the binaries (a laptop with only Node), the database tests run
 * on PGlite instead: TEST_DATABASE=pglite reaches the test files, createTestDatabase() gives each
 * caller an in-memory PGlite, and the tests that need a PostgreSQL server (other processes, a
 * server to stop) skip through postgresSkipReason(). `TEST_DATABASE=pglite npm test` asks for
 * that mode where PostgreSQL is available too.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { freePort } from "./net.ts";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Dialect, Driver, Kysely } from "kysely";
import { createDatabase } from "../../src/db/database.ts";
import { openEmbeddedDatabase } from "../../src/db/pglite.ts";
import { migrateToLatest } from "../../src/db/migrator.ts";
import type { Database } from "../../src/db/schema.ts";
import { createLogger } from "../../src/ops/logger.ts";

export interface TestDatabase {
  description: string;
  /** Environment handed to the test processes (TEST_DATABASE_URL). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startTestDatabase(): Promise<TestDatabase> {
  if (process.env.TEST_DATABASE === PGLITE) return pglite("TEST_DATABASE=pglite");
  const given = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (given) {
    return { description: `PostgreSQL at ${redact(given)} (from the environment)`, env: { TEST_DATABASE_URL: given }, stop: async () => undefined };
  }
  const binaries = findPostgresBinaries();
  if (!binaries) return pglite("no DATABASE_URL and no PostgreSQL binaries (initdb, pg_ctl) found");
  const cluster = await startCluster({ binaries });
  return {
    description: `ephemeral PostgreSQL cluster (${binaries}) on 127.0.0.1:${cluster.port}`,
    env: { TEST_DATABASE_URL: cluster.url },
    stop: () => cluster.remove(),
  };
}

const PGLITE = "pglite";

function pglite(why: string): TestDatabase {
  return {
    description:
      `PGlite (the embedded PostgreSQL, in memory): ${why}; ` +
      "the database tests run on PGlite, and the few that need a PostgreSQL server are skipped",
    env: { TEST_DATABASE: PGLITE },
    stop: async () => undefined,
  };
}

/** True when the tests run on PGlite (no PostgreSQL server here). */
export function usingPGlite(): boolean {
  return !process.env.TEST_DATABASE_URL && process.env.TEST_DATABASE === PGLITE;
}

/**
 * Why the database tests cannot run here, or undefined when they can (for `describe(…, { skip })`):
 * on PostgreSQL, or on PGlite when there is no PostgreSQL.
 */
export function databaseSkipReason(): string | undefined {
  if (process.env.TEST_DATABASE_URL || usingPGlite()) return undefined;
  return "no database for the tests: run them through `npm test` (no DATABASE_URL, no initdb/pg_ctl)";
}

/** Like databaseSkipReason, for tests that need a PostgreSQL server (a URL for other processes, a server to stop). */
export function postgresSkipReason(): string | undefined {
  if (process.env.TEST_DATABASE_URL) return undefined;
  return "needs a PostgreSQL server (no DATABASE_URL, no initdb/pg_ctl); PGlite cannot stand in for this one";
}

/** The directory holding initdb and pg_ctl, or undefined. */
export function findPostgresBinaries(): string | undefined {
  const candidates = (process.env.PATH ?? "").split(":").filter(Boolean);
  const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a)) : [];
  candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  return candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
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
  const binaries = options.binaries ?? findPostgresBinaries();
  if (!binaries) throw new Error("no PostgreSQL binaries (initdb, pg_ctl) found");
  const asRoot = process.getuid?.() === 0;
  const base = mkdtempSync(join(tmpdir(), "vera-pg-"));
  const dataDir = join(base, "data");
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(base, uid, gid);
  }
  // initdb and postgres refuse to run as root: run them as the postgres user then.
  const run = (program: string, args: string[]) => {
    const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(binaries, program), ...args]] : [join(binaries, program), args];
    const result = spawnSync(file, argv, { encoding: "utf8", cwd: base });
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
    if (running) spawnSync(asRoot ? "runuser" : join(binaries, "pg_ctl"), asRoot ? ["-u", "postgres", "--", join(binaries, "pg_ctl"), "-D", dataDir, "-m", "immediate", "stop"] : ["-D", dataDir, "-m", "immediate", "stop"]);
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
  /** URL of the new database (same server, same user as the admin URL); "" on PGlite. */
  url: string;
  /** On PGlite: the dialect to hand to createServices (`{ dialect }`) instead of the URL. */
  dialect?: Dialect;
  /** A migrated kysely instance on it. */
  db: Kysely<Database>;
  /** Closes `db` and drops the database. */
  drop(): Promise<void>;
}

let counter = 0;

/** Creates and migrates a database of its own from TEST_DATABASE_URL (or `adminUrl`). */
export async function createTestDatabase(options: { adminUrl?: string; migrate?: boolean } = {}): Promise<FreshDatabase> {
  if (!options.adminUrl && usingPGlite()) return createEmbeddedTestDatabase(options);
  const adminUrl = options.adminUrl ?? process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("TEST_DATABASE_URL is not set: run the tests through `npm test`");
  const name = `vera_test_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const log = createLogger({ level: "silent" });
  const db = createDatabase({ url: url.toString() }, log);
  if (options.migrate !== false) await migrateToLatest(db, log);
  return {
    url: url.toString(),
    db,
    drop: async () => {
      await db.destroy();
      await admin(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

/**
 * A fresh in-memory PGlite, migrated. Every kysely instance made from its dialect (the test's
 * `db`, the services') shares the one PGlite connection; only drop() closes it.
 */
export async function createEmbeddedTestDatabase(options: { migrate?: boolean } = {}): Promise<FreshDatabase> {
  const embedded = await openEmbeddedDatabase();
  const dialect = keptOpen(embedded.dialect);
  const log = createLogger({ level: "silent" });
  const db = createDatabase({ dialect }, log);
  if (options.migrate !== false) await migrateToLatest(db, log, { lock: false });
  return {
    url: "",
    dialect,
    db,
    drop: async () => {
      await db.destroy();
      if (!embedded.pglite.closed) await embedded.pglite.close();
    },
  };
}

/** The same dialect, except that destroying a kysely instance built on it leaves the database open. */
function keptOpen(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: (): Driver => {
      const driver = dialect.createDriver();
      return {
        savepoint: driver.savepoint?.bind(driver),
        rollbackToSavepoint: driver.rollbackToSavepoint?.bind(driver),
        releaseSavepoint: driver.releaseSavepoint?.bind(driver),
        init: () => driver.init(),
        acquireConnection: () => driver.acquireConnection(),
        beginTransaction: (connection, settings) => driver.beginTransaction(connection, settings),
        commitTransaction: (connection) => driver.commitTransaction(connection),
        rollbackTransaction: (connection) => driver.rollbackTransaction(connection),
        releaseConnection: (connection) => driver.releaseConnection(connection),
        destroy: async () => undefined,
      };
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

function postgresUser(): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new Error(`running as ${userInfo().username}, but there is no "postgres" user to run the PostgreSQL server as`);
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
