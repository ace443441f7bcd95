/**
 * The embedded default database in-process (src/embedded.ts, src/db/embedded-postgres.ts):
 * production mode without a database still warns that it serves one host only, and what it
 * opens is a real PostgreSQL on 127.0.0.1 with password authentication. The process-level
 * behaviour (sharing, kill -9, stopping) is in tests/devmode.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { loadConfig } from "../src/config.ts";
import { embeddedDatabase } from "../src/embedded.ts";
import { captureLogs } from "./support/logs.ts";

test("production without a database: the embedded PostgreSQL with a warning that it serves one host only", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "vera-embedded-"));
  chmodSync(dataDir, 0o755);
  const config = loadConfig({
    NODE_ENV: "test",
    WEBSOCKET_URL: "ws://127.0.0.1:1/websocket",
    TOKEN: "t",
    DATA_DIR: dataDir,
  });
  assert.equal(config.production, true);
  assert.equal(config.database, undefined);
  const captured = captureLogs("info");
  const embedded = await embeddedDatabase(config, captured.log);
  try {
    const warning = captured.lines().find((l) => l.level === "warn");
    assert.match(String(warning?.msg), /embedded database, which serves the replicas of this one host only/);
    const opened = captured.lines().find((l) => l.how === "created");
    assert.ok(opened, captured.text());
    assert.equal(opened.dir, path.join(dataDir, "postgres"));
    assert.equal(typeof opened.ms, "number");

    const url = new URL(embedded.url);
    assert.equal(url.hostname, "127.0.0.1");
    const client = new pg.Client({ connectionString: embedded.url });
    await client.connect();
    const { rows } = await client.query<{ listen: string; ssl: string }>("select current_setting('listen_addresses') as listen, current_setting('unix_socket_directories') as ssl");
    await client.end();
    assert.deepEqual(rows[0], { listen: "127.0.0.1", ssl: "" });
    // Without the password it is refused.
    url.password = "wrong";
    await assert.rejects(async () => {
      const intruder = new pg.Client({ connectionString: url.toString() });
      try {
        await intruder.connect();
      } finally {
        await intruder.end().catch(() => undefined);
      }
    }, /password authentication failed/);
  } finally {
    await embedded.release();
  }
  assert.ok(captured.lines().some((l) => l.msg === "embedded PostgreSQL stopped"));
});
