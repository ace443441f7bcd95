/**
 * The embedded defaults that let `npm start` run with nothing configured: PGlite kept under
 * DATA_DIR when no database is configured, and a development JWT secret generated once and
 * kept there too (so tokens survive restarts). Production with a real database never uses them.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Config } from "./config.ts";
import type { Logger } from "./ops/logger.ts";
import type { ServiceOptions } from "./services.ts";

export async function embeddedDefaults(config: Readonly<Config>, log: Logger): Promise<ServiceOptions> {
  const options: ServiceOptions = {};
  if (!config.database) {
    const dir = path.resolve(config.dataDir, "pglite");
    if (config.production) {
      log.warn({ dir }, "no DATABASE_URL or POSTGRES_* set: using the embedded database, which serves one replica only");
    }
    lockDataDir(dir);
    const started = Date.now();
    // Loaded only when used: PGlite's WebAssembly costs ~40 MB that a PostgreSQL deployment never needs.
    const { openEmbeddedDatabase } = await import("./db/pglite.ts");
    options.dialect = (await openEmbeddedDatabase(dir)).dialect;
    log.info({ dir, ms: Date.now() - started }, "embedded PostgreSQL (PGlite) opened");
  }
  if (config.jwt.algorithm.startsWith("HS") && !config.jwt.secret) options.jwtSecret = developmentSecret(config.dataDir, log);
  return options;
}

/** Reads the development JWT secret from DATA_DIR, creating it (owner-only) the first time. */
function developmentSecret(dataDir: string, log: Logger): string {
  const file = path.resolve(dataDir, "jwt-secret");
  try {
    const secret = readFileSync(file, "utf8").trim();
    if (Buffer.byteLength(secret) >= 32) return secret;
  } catch {
    // Not there yet: create it below.
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  log.info({ file }, "generated a development JWT secret");
  return secret;
}

/**
 * One process per embedded database: PGlite has no locking of its own, and two processes
 * writing one data directory corrupt it. The lock is a file holding the owner's pid.
 */
function lockDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, "owner.pid");
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const owner = Number(readFileSync(lock, "utf8"));
    if (owner && owner !== process.pid && isAlive(owner)) {
      throw new Error(
        `another process (pid ${owner}) is using the embedded database in ${dir}: give each instance its own DATA_DIR, or set DATABASE_URL`,
      );
    }
    writeFileSync(lock, String(process.pid)); // a stale lock from a process that died
  }
  process.once("exit", () => {
    try {
      if (readFileSync(lock, "utf8") === String(process.pid)) rmSync(lock);
    } catch {
      // Already gone.
    }
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
