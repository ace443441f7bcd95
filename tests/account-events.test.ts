/**
 * Every account change writes its domain event to the `events` outbox in the same transaction
 * (src/domain-events/record.ts): the right type, subject and data, the envelope the other systems read,
 * and never a password, digest, token or JWT.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";
import type { Envelope } from "../src/domain-events/record.ts";
import { sql } from "kysely";

let accounts: Accounts;
before(async () => (accounts = await startAccounts()));
after(async () => accounts.close());

/** The events written since `after` (an events.id), oldest first. */
async function eventsSince(after: string): Promise<Envelope[]> {
  const rows = await accounts.services.db.selectFrom("events").select(["envelope"]).where("id", ">", after).orderBy("id").execute();
  return rows.map((r) => r.envelope as Envelope);
}
async function lastId(): Promise<string> {
  const row = await accounts.services.db.selectFrom("events").select((eb) => eb.fn.max("id").as("id")).executeTakeFirst();
  return String(row?.id ?? 0);
}

test("each account action writes its event: register, login success and failure, edit, password change, logout, delete", async () => {
  const start = await lastId();
  const password = "password123";
  const jwt = await register(accounts, { username: "evented", email: "Evented@Example.com" });
  const id = (await accounts.services.users.findLive({ kind: "username", normalized: "evented" }))!.id;
  const login = await accounts.dispatch("Login", { username: "evented", password });
  const token = (login.fields as { jwt: string }).jwt;
  assert.equal((await accounts.dispatch("Login", { username: "evented", password: "wrong-password" })).status_code, 401);
  assert.equal((await accounts.dispatch("Login", { username: "nobody-here", password: "pw-typed-as-secret" })).status_code, 404);
  assert.equal((await accounts.dispatch("Edit", { jwt: token, name: "Eve Ented" })).status_code, 200);
  const changed = await accounts.dispatch("Edit", { jwt: token, password: "new-password-456", current_password: password });
  assert.equal(changed.status_code, 200);
  const fresh = (changed.fields as { jwt: string }).jwt;
  assert.equal((await accounts.dispatch("Logout", { jwt: fresh })).status_code, 200);
  const again = await accounts.dispatch("Login", { username: "evented", password: "new-password-456" });
  assert.equal((await accounts.dispatch("Delete", { jwt: (again.fields as { jwt: string }).jwt, password: "new-password-456" })).status_code, 200);

  const events = await eventsSince(start);
  assert.deepEqual(
    events.map((e) => [e.event_type, e.subject]),
    [
      ["user.registered", `user:${id}`],
      ["login.success", `user:${id}`],
      ["login.failed", `user:${id}`],
      ["login.failed", "user:unknown"],
      ["user.updated", `user:${id}`],
      ["password.changed", `user:${id}`],
      ["session.revoked", `user:${id}`],
      ["login.success", `user:${id}`],
      ["user.deleted", `user:${id}`],
    ],
  );
  const [registered, , failed, unknown, updated] = events;
  assert.deepEqual(registered!.data, { user_id: id, username: "evented", name: "Test User", email: "Evented@Example.com", phone_number: null });
  assert.deepEqual(failed!.data, { user_id: id, identifier_kind: "username", reason: "bad_password" });
  assert.deepEqual(unknown!.data, { user_id: null, identifier_kind: "username", reason: "user_not_found" });
  assert.deepEqual((updated!.data as { changed: string[] }).changed, ["name"]);
  for (const e of events) {
    // jsonb keeps keys in an order of its own: compare the sets.
    assert.deepEqual(Object.keys(e).sort(), ["actor", "data", "event_id", "event_type", "metadata", "priority", "resource", "source", "subject", "timestamp"]);
    assert.equal(e.source, "vera-service");
    assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
  }
  assert.equal(new Set(events.map((e) => e.event_id)).size, events.length, "event ids are unique");

  const text = JSON.stringify(events);
  for (const secret of [password, "new-password-456", "wrong-password", "pw-typed-as-secret", "nobody-here", jwt, token, fresh, "$2"]) {
    assert.ok(!text.includes(secret), `an event holds ${secret.slice(0, 12)}…`);
  }
});

test("a refused change writes no event: a duplicate registration leaves the outbox as it was", async () => {
  await register(accounts, { username: "only-once" });
  const start = await lastId();
  assert.equal((await accounts.dispatch("Register", { name: "Again", username: "only-once", password: "password123" })).status_code, 409);
  assert.deepEqual(await eventsSince(start), []);
});

test("the change and its event commit together: when the event cannot be written, the registration is not made either", async () => {
  const { db } = accounts.services;
  await sql`create or replace function refuse_events() returns trigger language plpgsql as $$ begin raise exception 'no events today'; end $$`.execute(db);
  await sql`create trigger refuse_events before insert on events for each row execute function refuse_events()`.execute(db);
  let answer;
  try {
    answer = await accounts.dispatch("Register", { name: "Lost", username: "never-stored", password: "password123" });
  } finally {
    await sql`drop trigger refuse_events on events`.execute(db);
  }
  assert.equal(answer.status_code, 500);
  assert.equal(await accounts.services.users.findLive({ kind: "username", normalized: "never-stored" }), undefined);
});
