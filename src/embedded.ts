/**
 * The embedded defaults that let `npm start` run with nothing configured: PGlite kept under
 * DATA_DIR when no database is configured, and a development JWT secret generated once and
 * kept there too (so tokens survive restarts). Production with a real database never uses them.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
