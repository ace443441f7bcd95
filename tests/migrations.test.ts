/**
 * Migrations: many replicas starting at once migrate once; a failed migration throws (and the
 * CLI exits non-zero); the tables match account/schema.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sql } from "kysely";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createTestDatabase, SERVICE_MIGRATIONS } from "./support/database.ts";
import { closeServices, createServices, testConfig } from "./support/accounts.ts";
import { captureLogs } from "./support/logs.ts";
import { cliArgs } from "./support/build.ts";

import { checkPending, folderMigrations, migrateToLatest, MigrationError, type MigrationSource } from "../src/db/migrator.ts";

const run = promisify(execFile);
/** `npm run migrate`'s command, compiled (tests/run.ts builds it): vera-service migrate on this repository's app. */
const MIGRATE_CLI = cliArgs("migrate");
const silent = captureLogs("silent").log;

describe("migrations", () => {
  /** Every migration of these sources, as migrateToLatest names them (`<owner>/<name>`), in the order they run. */
  const qualifiedNames = async (sources: readonly MigrationSource[]) => {
    const names: string[] = [];
    for (const source of sources) names.push(...Object.keys(await folderMigrations(source.dir).getMigrations()).sort().map((n) => `${source.owner}/${n}`));
    return names;
  };

  test("five replicas starting at once: every one comes up, each migration runs once, booked under its owner", async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      const logs = Array.from({ length: 5 }, () => captureLogs("info"));
      const services = await Promise.all(logs.map((l) => createServices(testConfig(database.url), l.log)));
      await Promise.all(services.map(closeServices));
      const applied = logs.flatMap((l) => l.lines().filter((line) => line.msg === "migration applied").map((line) => line.migration));
      const names = await qualifiedNames(SERVICE_MIGRATIONS);
      assert.equal(names.length, 11, "five of the framework's, six of the account module's");
      assert.deepEqual([...applied].sort(), [...names].sort(), "each migration applied by exactly one replica");
      for (const owner of ["framework", "account"]) {
        const { rows } = await sql<{ name: string }>`select name from ${sql.table(`vera_${owner}_migration`)} order by name`.execute(database.db);
        assert.deepEqual(rows.map((r) => `${owner}/${r.name}`), names.filter((n) => n.startsWith(`${owner}/`)));
      }
    } finally {
      await database.drop();
    }
  });

  test("an app's migrations run after the framework's and the modules', in name order, and its tables are made", async () => {
    const database = await createTestDatabase({ migrate: false });
    const dir = mkdtempSync(path.join(tmpdir(), "vera-app-migrations-"));
    try {
      writeFileSync(path.join(dir, "0002_orders_sku.ts"), `export async function up(db) { await db.schema.alterTable("orders").addColumn("sku", "text").execute(); }\n`);
      writeFileSync(path.join(dir, "0001_orders.ts"), `export async function up(db) { await db.schema.createTable("orders").addColumn("id", "serial", (c) => c.primaryKey()).execute(); }\n`);
      writeFileSync(path.join(dir, "notes.md"), "not a migration\n");
      const sources = [...SERVICE_MIGRATIONS, { owner: "app", dir }];
      const applied = await migrateToLatest(database.db, silent, { sources });
      assert.deepEqual(applied, await qualifiedNames(sources));
      assert.deepEqual(applied.slice(-2), ["app/0001_orders", "app/0002_orders_sku"]);
      const { rows } = await sql<{ column_name: string }>`select column_name from information_schema.columns where table_name = 'orders' order by ordinal_position`.execute(database.db);
      assert.deepEqual(rows.map((r) => r.column_name), ["id", "sku"]);
      assert.deepEqual(await checkPending(database.db, sources), { pending: [], problems: [] });
      writeFileSync(path.join(dir, "0003_later.ts"), `export async function up(db) { await db.schema.createTable("later").addColumn("id", "integer").execute(); }\n`);
      assert.deepEqual((await checkPending(database.db, sources)).pending, ["app/0003_later"]);
      assert.deepEqual(await migrateToLatest(database.db, silent, { sources }), ["app/0003_later"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await database.drop();
    }
  });

  test("a failing migration throws MigrationError naming it, and leaves nothing of its owner's run half-done", async () => {
    const database = await createTestDatabase({ migrate: false });
    const dir = mkdtempSync(path.join(tmpdir(), "vera-app-migrations-"));
    try {
      writeFileSync(path.join(dir, "0001_half.ts"), `export async function up(db) { await db.schema.createTable("half_done").addColumn("id", "integer").execute(); }\n`);
      writeFileSync(path.join(dir, "0002_broken.ts"), `export async function up(db) { await db.selectFrom("no_such_table").selectAll().execute(); }\n`);
      await assert.rejects(migrateToLatest(database.db, silent, { sources: [...SERVICE_MIGRATIONS, { owner: "app", dir }] }), (error: unknown) => {
        return error instanceof MigrationError && error.message === `migration app/0002_broken failed: relation "no_such_table" does not exist`;
      });
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = 'half_done'`.execute(database.db);
      assert.equal(rows[0]!.n, 0, "kysely runs an owner's batch in one transaction: nothing of it was kept");
      const { rows: users } = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = 'users'`.execute(database.db);
      assert.equal(users[0]!.n, 1, "the owners before it (framework, account) were applied");
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await database.drop();
    }
  });

  test("a database migrated from the one combined folder keeps its history: every name is booked under its owner, nothing runs again", async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      // As the earlier versions left it: every migration applied, booked in kysely's default table.
      await migrateToLatest(database.db, silent, { sources: SERVICE_MIGRATIONS });
      await sql`drop table vera_framework_migration, vera_account_migration, vera_framework_migration_lock, vera_account_migration_lock`.execute(database.db);
      await sql`create table kysely_migration (name varchar(255) not null primary key, timestamp varchar(255) not null)`.execute(database.db);
      const combined = ["0001_users", "0002_revocations", "0003_login_attempts", "0004_username_skeleton", "0005_roles", "0006_events_notify", "0007_handled_events", "0008_event_log", "0009_username_keys", "0010_handed_answers"];
      for (const name of combined) await sql`insert into kysely_migration values (${name}, '2026-11-01T00:00:00.000Z')`.execute(database.db);
      const logs = captureLogs("info");
      assert.deepEqual(await migrateToLatest(database.db, logs.log, { sources: SERVICE_MIGRATIONS }), [], "nothing applied twice");
      assert.ok(logs.lines().some((l) => /combined migration history was booked/.test(String(l.msg))));
      const { rows } = await sql<{ name: string }>`select name from vera_framework_migration union all select name from vera_account_migration`.execute(database.db);
      assert.equal(rows.length, 11);
      const { rows: renamed } = await sql<{ t: string | null }>`select to_regclass('kysely_migration_combined')::text as t`.execute(database.db);
      assert.equal(renamed[0]!.t, "kysely_migration_combined");
      // A database migrated only up to 0009 then gets 0010's successor on its own.
      await sql`delete from vera_framework_migration where name = '0005_handed_answers'`.execute(database.db);
      await sql`drop table handed_answers`.execute(database.db);
      assert.deepEqual(await migrateToLatest(database.db, silent, { sources: SERVICE_MIGRATIONS }), ["framework/0005_handed_answers"]);
    } finally {
      await database.drop();
    }
  });

  test("npm run migrate: applies, then finds nothing to do; exits 1 when the database is unreachable", async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      const env = { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: "info" };
      const first = await run(process.execPath, MIGRATE_CLI, { env });
      assert.match(first.stdout, /applied 11 migration\(s\)/);
      const second = await run(process.execPath, MIGRATE_CLI, { env });
      assert.match(second.stdout, /schema already up to date/);
      const failed = await run(process.execPath, MIGRATE_CLI, { env: { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" } }).then(
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
