/**
 * Taking over a Vera-Py-Service database (account/py-adoption.ts, run by migrations 0001 and
 * 0002) on a real PostgreSQL: both alembic revisions' schemas made by SQL, with accounts by
 * username only, email only, with a phone, soft-deleted, a revoked jti and `$2b$` digests at cost
 * 4 and 12. Every account logs in every way, a digest below the current cost is rehashed, new
 * accounts continue the ids, the Python service's tokens are refused, and a restart finds nothing
 * to do; rows that cannot be accepted stop the take-over with a report and change nothing;
 * `npm run migrate -- --check` prints the report; five replicas starting at once adopt it once.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import bcrypt from "bcryptjs";
import jwt from "jsonwebtoken";
import { sql, type Kysely } from "kysely";
import { createTestDatabase, SERVICE_MIGRATIONS, type FreshDatabase } from "./support/database.ts";
import { startAccounts, TEST_JWT_SECRET } from "./support/accounts.ts";
import { cliArgs, ROOT } from "./support/build.ts";
import { startService, type ServiceProcess } from "./support/process.ts";
import { checkPending, migrateToLatest, MigrationError } from "../src/db/migrator.ts";
import { createLogger } from "../src/ops/logger.ts";
import { DevPlugboard } from "../src/devboard/server.ts";

const silent = createLogger({ level: "silent" });
const PASSWORD = "python-era-password";
const databases: FreshDatabase[] = [];
after(async () => {
  for (const d of databases) await d.drop();
});

/** Python bcrypt's digest: the same algorithm, marked $2b$. */
const pyDigest = (cost: number) => bcrypt.hashSync(PASSWORD, cost).replace(/^\$2[ay]\$/, "$2b$");

type Revision = "c7478657dc4c" | "438ee0af9127";

/** The Python service's schema at `revision`, as its alembic migrations leave it. */
async function pySchema(revision: Revision): Promise<FreshDatabase> {
  const database = await createTestDatabase({ migrate: false });
  databases.push(database);
  const strict = revision === "438ee0af9127";
  const nullable = strict ? "not null" : "null";
  // The tables and indexes its alembic revisions create (SQLAlchemy's Integer primary key with autoincrement: a serial).
  await sql.raw(`
    create table alembic_version (version_num varchar(32) not null, constraint alembic_version_pkc primary key (version_num));
    insert into alembic_version values ('${revision}');
    create table revocations (jti uuid not null primary key, created_at timestamptz not null default now(), expires_at timestamptz null);
    create index idx_revocations_created_at on revocations (created_at);
    create index idx_revocations_expires_at on revocations (expires_at);
    create index ix_revocations_created_at on revocations (created_at);
    create index ix_revocations_expires_at on revocations (expires_at);
    ${strict ? "create index ix_revocations_jti on revocations (jti);" : ""}
    create table users (
      id serial not null primary key,
      username varchar ${nullable}, name varchar not null, email varchar ${nullable}, phone_number varchar ${nullable},
      password_digest varchar not null,
      created_at timestamptz not null default now(), updated_at timestamptz not null default now(), deleted_at timestamptz null);
    create index idx_users_deleted_at on users (deleted_at);
    create index idx_users_email on users (email);
    ${strict ? "create index idx_users_phone_number on users (phone_number);" : ""}
    create index idx_users_username on users (username);
    create index ix_users_created_at on users (created_at);
    create index ix_users_deleted_at on users (deleted_at);
    create unique index ix_users_email on users (email);
    create index ix_users_id on users (id);
    ${strict ? "create unique index ix_users_phone_number on users (phone_number);" : ""}
    create index ix_users_updated_at on users (updated_at);
    create unique index ix_users_username on users (username);
  `).execute(database.db);
  return database;
}

interface PyAccount {
  id: number;
  username: string | null;
  email: string | null;
  phone: string | null;
  cost: number;
  deleted?: boolean;
}

async function insert(database: FreshDatabase, accounts: PyAccount[]): Promise<void> {
  for (const a of accounts) {
    await sql`insert into users (id, username, name, email, phone_number, password_digest, deleted_at)
      values (${a.id}, ${a.username}, ${`Py ${a.id}`}, ${a.email}, ${a.phone}, ${pyDigest(a.cost)}, ${a.deleted ? new Date() : null})`.execute(database.db);
  }
}

const loose = (database: FreshDatabase) => database.db as unknown as Kysely<any>;

for (const revision of ["c7478657dc4c", "438ee0af9127"] as const) {
  describe(`a Vera-Py-Service database at ${revision}`, () => {
    test("taken over in place: every account logs in every way, new accounts continue the ids, the Python tokens are refused, a restart finds nothing to do", async () => {
      const database = await pySchema(revision);
      const strict = revision === "438ee0af9127";
      // In the later revision every account has all three identifiers.
      const accounts: PyAccount[] = [
        { id: 1, username: "Alice", email: strict ? "alice@example.com" : null, phone: strict ? "+1 202-555-0101" : null, cost: 4 },
        { id: 2, username: strict ? "bob" : null, email: "Bob@Example.com", phone: strict ? "+1 202-555-0102" : null, cost: 12 },
        { id: 3, username: "carol", email: strict ? "carol@example.com" : null, phone: "+1 (202) 555-0143", cost: 4 },
        { id: 7, username: "dave", email: strict ? "dave@example.com" : null, phone: strict ? "+1 202-555-0104" : null, cost: 4, deleted: true },
      ];
      await insert(database, accounts);
      // In the first revision's database, ids 8 and 9 were handed out and their rows removed since: the sequence is ahead.
      if (!strict) await sql`select setval('users_id_seq', 9)`.execute(database.db);
      const revokedJti = randomUUID();
      await sql`insert into revocations (jti, expires_at) values (${revokedJti}, null)`.execute(database.db);
      // A token the Python service issued (same secret, issuer, audience), with and without an expiry.
      const now = Math.floor(Date.now() / 1000) - 5;
      const pyToken = (exp?: number) => jwt.sign({ sub: "1", jti: randomUUID(), iat: now, ...(exp ? { exp } : {}), iss: "vera-service", aud: "vera-clients" }, TEST_JWT_SECRET, { algorithm: "HS256", noTimestamp: true });

      assert.deepEqual((await checkPending(loose(database), SERVICE_MIGRATIONS)).problems, []);
      const applied = await migrateToLatest(loose(database), silent, { sources: SERVICE_MIGRATIONS });
      assert.deepEqual(applied.slice(0, 6), ["framework/0001_events", "framework/0002_events_notify", "framework/0003_handled_events", "framework/0004_event_log", "framework/0005_handed_answers", "account/0001_users"]);
      assert.equal(applied.length, 11);

      const env = { BCRYPT_COST: "5" };
      let service = await startAccounts({ database, env });
      try {
        const login = (fields: Record<string, string>) => service.dispatch("Login", { ...fields, password: PASSWORD });
        assert.equal((await login({ username: "alice" })).status_code, 200, "username, any case");
        assert.equal((await login({ username: "ALICE" })).status_code, 200);
        assert.equal((await login({ email: "bob@example.com" })).status_code, 200, "email, any case");
        assert.equal((await login({ email: "BOB@EXAMPLE.COM" })).status_code, 200);
        assert.equal((await login({ phone_number: "+12025550143" })).status_code, 200, "phone, any format");
        assert.equal((await login({ phone_number: "+1 202 555 0143" })).status_code, 200);
        assert.equal((await login({ username: "carol" })).status_code, 200);
        assert.equal((await login({ username: "dave" })).status_code, 404, "a soft-deleted account stays deleted");
        assert.equal((await service.dispatch("Login", { username: "alice", password: "wrong-password" })).status_code, 401);

        const digest = async (id: number) => (await sql<{ d: string }>`select password_digest as d from users where id = ${id}`.execute(database.db)).rows[0]!.d;
        assert.equal(bcrypt.getRounds(await digest(1)), 5, "the cost-4 digest was rehashed at the current cost");
        assert.equal(bcrypt.getRounds(await digest(2)), 12, "a digest above the current cost is kept");

        // The Python service's tokens: refused, with or without an expiry.
        for (const token of [pyToken(now + 3600), pyToken()]) {
          assert.deepEqual((await service.dispatch("Verify", { jwt: token })).fields, { active: false });
          assert.equal((await service.dispatch("Show", { jwt: token })).status_code, 401);
        }
        const kept = await sql<{ n: string }>`select count(*) as n from revocations where jti = ${revokedJti}`.execute(database.db);
        assert.equal(Number(kept.rows[0]!.n), 1, "the revoked jti is kept");

        // New accounts: after the highest id; the deleted account's username is free again.
        const registered = await service.dispatch("Register", { name: "New", username: "dave", email: "new@example.com", password: "a-new-password" });
        assert.equal(registered.status_code, 201);
        const newest = await sql<{ id: number }>`select id from users where username = 'dave' and deleted_at is null`.execute(database.db);
        assert.equal(newest.rows[0]!.id, strict ? 8 : 10, "after the highest id, or the sequence when it went further");
        assert.equal((await service.dispatch("Register", { name: "Clash", email: "ALICE@example.com", username: "alice2", password: "a-new-password" })).status_code, strict ? 409 : 201);
        const token = (registered.fields as { jwt: string }).jwt;
        assert.equal((await service.dispatch("Logout", { jwt: token })).status_code, 200);
        assert.deepEqual((await service.dispatch("Verify", { jwt: token })).fields, { active: false });
      } finally {
        await service.close();
      }

      // A restart: nothing left to migrate, everything still works.
      assert.deepEqual(await migrateToLatest(loose(database), silent, { sources: SERVICE_MIGRATIONS }), []);
      service = await startAccounts({ database, env });
      try {
        assert.equal((await service.dispatch("Login", { username: "carol", password: PASSWORD })).status_code, 200);
        assert.equal((await service.dispatch("Login", { email: "bob@example.com", password: PASSWORD })).status_code, 200);
      } finally {
        await service.close();
      }
    });
  });
}

/** What the take-over must leave alone when it stops: the Python tables' columns and indexes, and every row. */
async function snapshot(database: FreshDatabase): Promise<string> {
  const columns = await sql`select table_name, column_name, is_nullable, data_type from information_schema.columns where table_schema = 'public' and table_name in ('users', 'revocations') order by table_name, column_name`.execute(database.db);
  const indexes = await sql`select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename in ('users', 'revocations') order by indexname`.execute(database.db);
  const rows = await sql`select * from users order by id`.execute(database.db);
  return JSON.stringify([columns.rows, indexes.rows, rows.rows]);
}

test("rows it cannot accept stop the take-over with a report naming them; the database is left as it was; npm run migrate -- --check prints the report", async () => {
  const database = await pySchema("c7478657dc4c");
  await insert(database, [
    { id: 1, username: "eve", email: "Eve@Example.com", phone: null, cost: 4 },
    { id: 2, username: "eve2", email: "eve@example.com", phone: null, cost: 4 },
    { id: 3, username: "frank", email: null, phone: "555-0100", cost: 4 },
    { id: 4, username: null, email: null, phone: "+1 202 555 0199", cost: 4 },
    { id: 5, username: "Gina", email: null, phone: null, cost: 4 },
    { id: 6, username: "gina", email: null, phone: null, cost: 4 },
    // Deleted accounts reserve nothing: not conflicts.
    { id: 7, username: "eve3", email: "EVE@example.com", phone: "nonsense", cost: 4, deleted: true },
  ]);
  const expected = [
    "users 5, 6: live accounts whose usernames differ only in case or form; only one may keep it",
    "users 1, 2: live accounts whose emails differ only in case; only one may keep it",
    "user 3: its phone number does not parse (use the international format with the country code, e.g. +1 202 555 0123); store it in international form (+country code) or clear it",
    "users 4: neither a username nor an email; give each one",
  ];
  const before = await snapshot(database);
  assert.deepEqual((await checkPending(loose(database), SERVICE_MIGRATIONS)).problems.map((p) => p.problem), expected);

  const run = promisify(execFile);
  const checked = await run(process.execPath, cliArgs("migrate", "--check"), { env: { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: "silent" } }).catch((error: { code: number; stdout: string }) => error);
  assert.equal((checked as { code?: number }).code, 1);
  for (const line of expected) assert.ok((checked as { stdout: string }).stdout.includes(`account/0001_users: ${line}`), line);
  assert.match((checked as { stdout: string }).stdout, /4 problem\(s\): the migrations would stop; nothing was changed/);

  await assert.rejects(migrateToLatest(loose(database), silent, { sources: SERVICE_MIGRATIONS }), (error: Error) => {
    assert.ok(error instanceof MigrationError);
    assert.match(error.message, /^migration account\/0001_users cannot run on this database \(nothing was changed\):\n/);
    for (const line of expected) assert.ok(error.message.includes(line), line);
    return true;
  });
  assert.equal(await snapshot(database), before, "the Python tables are as they were");
  const tables = await sql<{ t: string }>`select tablename as t from pg_tables where schemaname = 'public' order by tablename`.execute(database.db);
  assert.deepEqual(tables.rows.map((r) => r.t), ["alembic_version", "revocations", "users"], "nothing was added, not even kysely's bookkeeping tables");

  // The service itself refuses to start on it, saying why.
  const refused = startService({ DATABASE_URL: database.url, PLUGBOARD_PORT: "0", DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-adopt-")), LOG_LEVEL: "info" });
  assert.equal((await refused.exited).code, 1);
  assert.ok(refused.output().includes("user 3: its phone number does not parse"), refused.output().slice(-2000));
  assert.equal(await snapshot(database), before);

  // Fixed by the operator: the take-over goes through.
  await sql`update users set email = 'eve.two@example.com' where id = 2`.execute(database.db);
  await sql`update users set phone_number = '+1 202 555 0100' where id = 3`.execute(database.db);
  await sql`update users set username = 'nobody' where id = 4`.execute(database.db);
  await sql`update users set username = 'gina_two' where id = 6`.execute(database.db);
  assert.deepEqual((await checkPending(loose(database), SERVICE_MIGRATIONS)).problems, []);
  assert.equal((await migrateToLatest(loose(database), silent, { sources: SERVICE_MIGRATIONS })).length, 11);
});

test("five replicas starting at once on a Vera-Py-Service database: taken over once, all five serve its accounts", async () => {
  const database = await pySchema("438ee0af9127");
  await insert(database, [{ id: 1, username: "zoe", email: "zoe@example.com", phone: "+1 202 555 0111", cost: 4 }]);
  const board = await DevPlugboard.start({});
  const processes: ServiceProcess[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      processes.push(startService({
        WEBSOCKET_URL: board.socketUrl,
        TOKEN: board.token,
        JWT_SECRET: "replica-secret-replica-secret-replica-secret",
        DATABASE_URL: database.url,
        DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-adopt-")),
        BCRYPT_COST: "4",
        BCRYPT_THREADS: "1",
        LOG_LEVEL: "info",
      }));
    }
    await board.waitFor(() => board.consumers().filter((c) => c.joined).length === 5, 90_000);
    const applied = processes.flatMap((p) => p.lines().filter((l) => l.msg === "migration applied").map((l) => l.migration));
    assert.equal(applied.filter((m) => m === "account/0001_users").length, 1, "adopted by exactly one replica");
    assert.equal(applied.length, 11);
    const answers = await Promise.all(Array.from({ length: 10 }, () => board.request("Login", { email: "ZOE@example.com", password: PASSWORD })));
    assert.deepEqual(answers.map((a) => a.status), Array(10).fill(200));
  } finally {
    for (const p of processes) p.kill("SIGTERM");
    await Promise.all(processes.map((p) => p.exited));
    await board.stop();
  }
});
