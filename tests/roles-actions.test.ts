/**
 * AssignRole, RevokeRole and ListRoles through the real dispatcher on a real PostgreSQL; the
 * roles in new tokens, in Verify and Show; old tokens ending at a revocation; races and hostile
 * input. The first administrator is made as the operator makes it: through account/roles.ts,
 * the code `npm run roles -- grant` runs (tests/roles-command.test.ts runs the command itself).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";
import { freePort } from "../src/net.ts";
import { createDatabase } from "../src/db/database.ts";
import { createLogger } from "../src/ops/logger.ts";
import { Roles } from "../account/roles.ts";
import { requireRole } from "../account/guard.ts";
import type { MiddlewareCall } from "../src/actions/middleware.ts";
import { ok } from "../src/actions/responses.ts";
import type { Database } from "../account/schema.ts";

let accounts: Accounts;
let adminToken: string;
let adminId: number;

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
const call = async (action: string, fields: unknown) => {
  const answer = await accounts.dispatch(action, fields);
  return { status: answer.status_code, message: answer.message, fields: answer.fields as Record<string, unknown> | null };
};
const login = async (username: string) => {
  const answer = await call("Login", { username, password: "password123" });
  assert.equal(answer.status, 200, String(answer.message));
  return String(answer.fields!.jwt);
};

before(async () => {
  accounts = await startAccounts();
  await register(accounts, { username: "root" });
  adminId = (await accounts.services.users.findLive({ kind: "username", normalized: "root" }))!.id;
  assert.equal(await accounts.services.roles.grant(adminId, "admin", null), "granted");
  adminToken = await login("root"); // a role takes effect at the next login
});
after(async () => accounts.close());

describe("AssignRole and RevokeRole", () => {
  test("an administrator assigns a role: 200, then 409 for the same again; the new token carries it", async () => {
    await accounts.services.roles.define("editor", ["posts:write"]);
    await register(accounts, { username: "eddie" });
    assert.deepEqual(await call("AssignRole", { jwt: adminToken, username: "eddie", role: "editor" }), {
      status: 200,
      message: "Role assigned",
      fields: { username: "eddie", role: "editor" },
    });
    assert.deepEqual(await call("AssignRole", { jwt: adminToken, username: "eddie", role: "editor" }), { status: 409, message: "User already has this role", fields: null });
    const token = await login("eddie");
    assert.deepEqual(claimsOf(token).roles, ["editor"]);
    const verified = await call("Verify", { jwt: token });
    assert.deepEqual([verified.fields!.active, verified.fields!.roles, verified.fields!.permissions], [true, ["editor"], ["posts:write"]]);
    assert.deepEqual((await call("Show", { jwt: token })).fields!.roles, ["editor"]);
  });

  test("404 for an unknown account or role; 409 revoking a role not held", async () => {
    await register(accounts, { username: "plain" });
    assert.deepEqual(await call("AssignRole", { jwt: adminToken, username: "ghost", role: "admin" }), { status: 404, message: "User not found", fields: null });
    assert.deepEqual(await call("AssignRole", { jwt: adminToken, username: "plain", role: "no-such-role" }), { status: 404, message: "Role not found", fields: null });
    assert.deepEqual(await call("RevokeRole", { jwt: adminToken, username: "plain", role: "no-such-role" }), { status: 404, message: "Role not found", fields: null });
    assert.deepEqual(await call("RevokeRole", { jwt: adminToken, username: "ghost", role: "admin" }), { status: 404, message: "User not found", fields: null });
    assert.deepEqual(await call("RevokeRole", { jwt: adminToken, username: "plain", role: "admin" }), { status: 409, message: "User does not have this role", fields: null });
  });

  test("403 without roles:assign, 401 without a valid token; roles:assign alone is enough", async () => {
    await register(accounts, { username: "nobody-special" });
    const plain = await login("nobody-special");
    for (const action of ["AssignRole", "RevokeRole"]) {
      assert.deepEqual(await call(action, { jwt: plain, username: "root", role: "admin" }), { status: 403, message: "Forbidden: roles:assign required", fields: null });
      assert.equal((await call(action, { jwt: "not-a-jwt", username: "root", role: "admin" })).status, 401);
      assert.equal((await call(action, { username: "root", role: "admin" })).status, 400);
    }
    assert.deepEqual(await call("ListRoles", { jwt: plain }), { status: 403, message: "Forbidden: roles:read required", fields: null });

    await accounts.services.roles.define("role-manager", ["roles:*"]);
    await register(accounts, { username: "manager" });
    assert.equal((await call("AssignRole", { jwt: adminToken, username: "manager", role: "role-manager" })).status, 200);
    const manager = await login("manager");
    assert.equal((await call("AssignRole", { jwt: manager, username: "nobody-special", role: "role-manager" })).status, 200);
    assert.equal((await call("ListRoles", { jwt: manager })).status, 200);
  });

  test("a revocation ends every token minted before it at once (Verify inactive, Show 401); the guard reads the database, not the claim", async () => {
    await accounts.services.roles.define("reader", ["roles:read"]);
    await register(accounts, { username: "temp" });
    assert.equal((await call("AssignRole", { jwt: adminToken, username: "temp", role: "reader" })).status, 200);
    const before = await login("temp");
    assert.equal((await call("ListRoles", { jwt: before })).status, 200);
    assert.deepEqual(await call("RevokeRole", { jwt: adminToken, username: "temp", role: "reader" }), { status: 200, message: "Role revoked", fields: { username: "temp", role: "reader" } });
    assert.deepEqual((await call("Verify", { jwt: before })).fields, { active: false });
    assert.equal((await call("Show", { jwt: before })).status, 401);
    assert.equal((await call("ListRoles", { jwt: before })).status, 401);
    const after = await login("temp");
    assert.deepEqual(claimsOf(after).roles, []);
    assert.deepEqual(await call("ListRoles", { jwt: after }), { status: 403, message: "Forbidden: roles:read required", fields: null });
  });

  test("twenty concurrent assignments of one role: exactly one 200, the rest 409", async () => {
    await register(accounts, { username: "racer" });
    await accounts.services.roles.define("racing", ["race:run"]);
    const answers = await Promise.all(Array.from({ length: 20 }, () => call("AssignRole", { jwt: adminToken, username: "racer", role: "racing" })));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, ...Array(19).fill(409)]);
  });

  test("hostile input: role names with SQL, __proto__, 10 kB strings → 400, nothing changes", async () => {
    for (const role of ["admin'; drop table roles; --", "__proto__", "r".repeat(10_000), "ADMIN", ""]) {
      const answer = await call("AssignRole", { jwt: adminToken, username: "root", role });
      assert.equal(answer.status, 400, `${role.slice(0, 30)} → ${answer.status} ${answer.message}`);
    }
    // A well-formed name is looked up as data, never as an object's own property.
    assert.deepEqual(await call("AssignRole", { jwt: adminToken, username: "root", role: "constructor" }), { status: 404, message: "Role not found", fields: null });
    assert.equal((await call("AssignRole", { jwt: adminToken, username: "u".repeat(10_000), role: "admin" })).status, 400);
    // As the wire delivers it: "__proto__" an own key (JSON.parse), an unknown field like any other.
    const withProto = JSON.parse(`{"jwt":${JSON.stringify(adminToken)},"username":"root","role":"admin","__proto__":{"role":"x"}}`) as unknown;
    const protoAnswer = await call("AssignRole", withProto);
    assert.equal(protoAnswer.status, 400);
    assert.match(String(protoAnswer.message), /__proto__: is not a known field/);
    assert.ok((await accounts.services.roles.list()).some((r) => r.name === "admin"), "the roles table is still there");
  });
});

describe("requireRole", () => {
  test("lets a holder of the role through with its permissions, refuses others with 403, bad tokens with 401", async () => {
    const guard = requireRole("admin");
    const ctx = { get: () => accounts.services } as unknown as MiddlewareCall["ctx"];
    const through = (jwt: string) => guard.handle({ action: "Test", fields: { jwt }, ctx }, async (adds) => ok("through", { user: adds.user.username, permissions: adds.permissions }));
    assert.deepEqual(await through(adminToken), { status_code: 200, message: "through", fields: { user: "root", permissions: ["*"] } });
    await register(accounts, { username: "not-admin" });
    assert.deepEqual(await through(await login("not-admin")), { status_code: 403, message: "Forbidden: role admin required", fields: null });
    assert.equal((await through("not-a-jwt")).status_code, 401);
  });
});

describe("the database down", () => {
  test("a guard whose permission read fails answers 503, never a pass; the token check before it still works", async () => {
    const port = await freePort(); // nothing listens there: every query is refused
    const down = createDatabase<Database>({ url: `postgres://nobody@127.0.0.1:${port}/none`, connectTimeoutMs: 1000 }, createLogger({ level: "silent" }));
    const { roles } = accounts.services;
    accounts.services.roles = new Roles(down);
    try {
      for (const [action, fields] of [
        ["AssignRole", { jwt: adminToken, username: "root", role: "admin" }],
        ["RevokeRole", { jwt: adminToken, username: "root", role: "admin" }],
        ["ListRoles", { jwt: adminToken }],
      ] as const) {
        assert.deepEqual(await call(action, fields), { status: 503, message: "Service unavailable", fields: null }, action);
      }
      assert.equal((await call("ListRoles", { jwt: "not-a-jwt" })).status, 401);
    } finally {
      accounts.services.roles = roles;
      await down.destroy();
    }
    assert.equal((await call("ListRoles", { jwt: adminToken })).status, 200);
  });
});

describe("ListRoles", () => {
  test("every role with its permissions and how many hold it", async () => {
    const answer = await call("ListRoles", { jwt: adminToken });
    assert.equal(answer.status, 200);
    const roles = answer.fields!.roles as Array<{ name: string; permissions: string[]; holders: number }>;
    assert.deepEqual(roles.find((r) => r.name === "admin"), { name: "admin", description: "Every permission", permissions: ["*"], holders: 1 });
  });
});

describe("events", () => {
  test("each assignment and revocation through the actions is recorded with its actor; no secret in any", async () => {
    const rows = await accounts.services.db.selectFrom("events").select(["event_type", "envelope"]).where("event_type", "like", "role.%").orderBy("id").execute();
    assert.ok(rows.length >= 6);
    const byAdmin = rows.map((r) => r.envelope as { actor: string }).filter((e) => e.actor === `user:${adminId}`);
    assert.ok(byAdmin.length >= 4);
    const text = JSON.stringify(rows);
    assert.ok(!/password|digest|jwt|eyJ/.test(text), "no secret in the envelopes");
  });
});
