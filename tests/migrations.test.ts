/**
 * Migrations: many replicas starting at once migrate once; a failed migration throws (and the
 * CLI exits non-zero); the tables match account/schema.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { sql, type Kysely } from "kysely";
import { createTestDatabase } from "./support/database.ts";
import { closeServices, createServices, testConfig } from "./support/accounts.ts";
import { captureLogs } from "./support/logs.ts";

import { folderMigrations, migrateToLatest, MigrationError } from "../src/db/migrator.ts";

const run = promisify(execFile);
/** `npm run migrate`'s entry, compiled (tests/run.ts builds it): it must find dist/migrations/ on its own. */
const MIGRATE_CLI = fileURLToPath(new URL("../dist/src/db/migrate-cli.js", import.meta.url));
const silent = captureLogs("silent").log;

describe("migrations", () => {
  test("five replicas starting at once: every one comes up, each migration runs once", async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      const logs = Array.from({ length: 5 }, () => captureLogs("info"));
      const services = await Promise.all(logs.map((l) => createServices(testConfig(database.url), l.log)));
      await Promise.all(services.map(closeServices));
      const applied = logs.flatMap((l) => l.lines().filter((line) => line.msg === "migration applied").map((line) => line.migration));
      const files = Object.keys(await folderMigrations().getMigrations()).sort();
      assert.deepEqual([...applied].sort(), files, "each migration applied by exactly one replica");
      const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(database.db);
      assert.deepEqual(rows.map((r) => r.name), files);
    } finally {
      await database.drop();
    }
  });

  test("a failing migration throws MigrationError naming it, and leaves nothing half-done", async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      const provider = {
        getMigrations: async () => ({
          ...(await folderMigrations().getMigrations()),
          "9999_broken": {
            up: async (db: Kysely<any>) => {
              await db.schema.createTable("half_done").addColumn("id", "integer").execute();
              await sql`select * from no_such_table`.execute(db);
            },
          },
        }),
      };
      await assert.rejects(migrateToLatest(database.db, silent, { provider }), (error: unknown) => {
        return error instanceof MigrationError && error.message === `migration 9999_broken failed: relation "no_such_table" does not exist`;
      });
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename in ('half_done', 'users')`.execute(database.db);
      assert.equal(rows[0]!.n, 0, "kysely runs the batch in one transaction: nothing was kept");
    } finally {
      await database.drop();
    }
  });

  test("npm run migrate: applies, then finds nothing to do; exits 1 when the database is unreachable", async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      const env = { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: "info" };
      const first = await run(process.execPath, [MIGRATE_CLI], { env });
      assert.match(first.stdout, /applied 10 migration\(s\)/);
      const second = await run(process.execPath, [MIGRATE_CLI], { env });
      assert.match(second.stdout, /schema already up to date/);
      const failed = await run(process.execPath, [MIGRATE_CLI], { env: { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" } }).then(
        () => 0,
        (error: { code?: number }) => error.code,
      );
      assert.equal(failed, 1);
    } finally {
      await database.drop();
    }
  });

  test("the tables have exactly the columns account/schema.ts declares", async () => {
    const database = await createTestDatabase();
    try {
      const { rows } = await sql<{ table_name: string; column_name: string }>`
        select table_name, column_name from information_schema.columns
        where table_schema = 'public' and table_name in ('users', 'revocations', 'login_attempts', 'roles', 'user_roles', 'events')
        order by table_name, ordinal_position`.execute(database.db);
      const columns = (table: string) => rows.filter((r) => r.table_name === table).map((r) => r.column_name);
      // Keys of the kysely table interfaces, spelled out: a change to either side shows here.
      assert.deepEqual(columns("users"), [
        "id", "username", "username_normalized", "name", "email", "email_normalized", "phone_number",
        "password_digest", "tokens_valid_after", "created_at", "updated_at", "deleted_at", "username_skeleton",
        "username_cased_skeleton", "username_keys_version",
      ]);
      assert.deepEqual(columns("revocations"), ["jti", "user_id", "expires_at", "created_at"]);
      assert.deepEqual(columns("login_attempts"), ["id", "identifier", "attempted_at"]);
      assert.deepEqual(columns("roles"), ["name", "description", "permissions", "created_at", "updated_at"]);
      assert.deepEqual(columns("user_roles"), ["user_id", "role", "granted_by", "granted_at"]);
      assert.deepEqual(columns("events"), ["id", "event_id", "event_type", "subject", "envelope", "created_at", "published_at", "position"]);
    } finally {
      await database.drop();
    }
  });
});
