/** Roles on a real PostgreSQL: definitions, grants and revocations, their events, their races. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql, type Kysely } from "kysely";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import type { Database } from "../account/schema.ts";
import { Users } from "../account/users.ts";
import { Roles, grants } from "../account/roles.ts";

let fresh: FreshDatabase;
let db: Kysely<Database>;
let roles: Roles;
let users: Users;
let n = 0;

before(async () => {
  fresh = await createTestDatabase();
  db = fresh.db as unknown as Kysely<Database>;
  roles = new Roles(db);
  users = new Users(db);
});
after(async () => fresh.drop());

const newUser = async () => (await users.create({ name: "R", username: `roles${++n}`, passwordDigest: "x" })).id;

test("grants(): exact permissions, resource:* and *", () => {
  assert.equal(grants(["roles:read"], "roles:read"), true);
  assert.equal(grants(["roles:read"], "roles:assign"), false);
  assert.equal(grants(["roles:*"], "roles:assign"), true);
  assert.equal(grants(["rolesx:*"], "roles:assign"), false);
  assert.equal(grants(["*"], "anything:at-all"), true);
  assert.equal(grants([], "roles:read"), false);
});

test("the built-in admin role grants everything; define creates, then replaces permissions", async () => {
  assert.deepEqual((await roles.list()).find((r) => r.name === "admin")?.permissions, ["*"]);
  assert.equal(await roles.define("auditor", ["logs:read", "logs:read", "users:read"], "Reads"), "created");
  assert.equal(await roles.define("auditor", ["logs:read"]), "updated");
  const auditor = (await roles.list()).find((r) => r.name === "auditor")!;
  assert.deepEqual(auditor, { name: "auditor", description: "Reads", permissions: ["logs:read"], holders: 0 });
});

test("the database refuses a role name out of shape, whatever the caller checked", async () => {
  for (const name of ["Admin", "x'; drop table roles; --", "__proto__", "r".repeat(65), ""]) {
    await assert.rejects(db.insertInto("roles").values({ name }).execute(), Error, name);
  }
});

test("grant and revoke: the answers, the permissions read at once, one event each in the same transaction", async () => {
  await roles.define("editor", ["posts:write", "posts:read"]);
  const user = await newUser();
  const by = await newUser();
  const unprivileged = await newUser();
  // An account acting must hold what the role grants (tests/escalation.test.ts has the rule whole).
  assert.deepEqual(await roles.grant(user, "editor", unprivileged), { refused: "missing permission", permission: "posts:write" });
  assert.equal(await roles.grant(by, "editor", null), "granted");
  assert.equal(await roles.grant(user, "editor", by), "granted");
  assert.equal(await roles.grant(user, "editor", by), "held");
  assert.equal(await roles.grant(user, "no-such-role", by), "no such role");
  assert.deepEqual(await roles.rolesOf(user), ["editor"]);
  assert.deepEqual(await roles.permissionsOf(user), ["posts:read", "posts:write"]);

  const before = (await users.findById(user))!.tokens_valid_after;
  assert.equal(await roles.revoke(user, "editor", null), "revoked");
  assert.equal(await roles.revoke(user, "editor", null), "not held");
  assert.deepEqual(await roles.permissionsOf(user), []);
  const validAfter = (await users.findById(user))!.tokens_valid_after;
  assert.ok(validAfter && (!before || validAfter > before), "revoking moved the account's valid-after time");

  const events = await db.selectFrom("events").select(["event_type", "subject", "envelope"]).where("subject", "=", `user:${user}`).where("event_type", "like", "role.%").orderBy("id").execute();
  assert.deepEqual(events.map((e) => e.event_type), ["role.assigned", "role.revoked"]);
  const [assigned, revoked] = events.map((e) => e.envelope as Record<string, unknown>);
  assert.equal(assigned!.actor, `user:${by}`);
  assert.equal(revoked!.actor, "operator");
  assert.equal(assigned!.resource, "role:editor");
  assert.deepEqual(assigned!.data, { user_id: user, role: "editor" });
  assert.equal(assigned!.source, "vera-service");
  assert.match(String(assigned!.event_id), /^[0-9a-f-]{36}$/);
});

test("concurrent grants of one role to one account: exactly one is granted, one event", async () => {
  await roles.define("racer", ["race:run"]);
  const user = await newUser();
  const results = await Promise.all(Array.from({ length: 12 }, () => roles.grant(user, "racer", null)));
  assert.equal(results.filter((r) => r === "granted").length, 1, JSON.stringify(results));
  assert.equal(results.filter((r) => r === "held").length, 11);
  const { count } = await db
    .selectFrom("events")
    .select((eb) => eb.fn.countAll<string>().as("count"))
    .where("subject", "=", `user:${user}`)
    .where("event_type", "=", "role.assigned")
    .executeTakeFirstOrThrow();
  assert.equal(Number(count), 1);
});

test("a failed change writes no event: the event and the change commit together", async () => {
  const user = await newUser();
  await roles.define("fragile", ["f:x"]);
  // A grant whose transaction fails after its insert (the role vanishes under a trigger) leaves nothing behind.
  await sql`create or replace function fail_events() returns trigger language plpgsql as $$ begin raise exception 'no events today'; end $$`.execute(db);
  await sql`create trigger fail_events before insert on events for each row execute function fail_events()`.execute(db);
  try {
    await assert.rejects(roles.grant(user, "fragile", null), /no events today/);
  } finally {
    await sql`drop trigger fail_events on events`.execute(db);
  }
  assert.deepEqual(await roles.rolesOf(user), [], "the grant rolled back with its event");
});
