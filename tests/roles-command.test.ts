/**
 * `npm run roles`: the operator's way to define roles and make the first administrator, run as
 * operators run it (the compiled command on plain node, configured by the environment) against a
 * real PostgreSQL, then seen from the service's side.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runNode } from "./support/process.ts";
import path from "node:path";
import { cliArgs, DIST } from "./support/build.ts";
import { createTestDatabase } from "./support/database.ts";
import { parseRolesCommand } from "../account/roles-command.ts";
import { Users } from "../account/users.ts";
import { Roles } from "../account/roles.ts";
import type { Kysely } from "kysely";
import type { Database } from "../account/schema.ts";

function roles(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode(cliArgs("roles", ...args), env);
}

test("arguments: each command's shape, and clear refusals", () => {
  assert.deepEqual(parseRolesCommand(["define", "editor", "posts:write", "posts:*", "--description", "Writes"]), {
    kind: "define",
    role: "editor",
    permissions: ["posts:write", "posts:*"],
    description: "Writes",
  });
  assert.deepEqual(parseRolesCommand(["grant", "alice", "admin"]), { kind: "grant", username: "alice", role: "admin" });
  assert.deepEqual(parseRolesCommand(["list"]), { kind: "list", username: undefined });
  for (const [args, problem] of [
    [[], /no command/],
    [["promote", "alice"], /unknown command/],
    [["grant", "alice"], /not a role name/],
    [["grant", "alice", "Admin; drop table roles"], /not a role name/],
    [["grant", "alice", "__proto__"], /not a role name/],
    [["define", "r".repeat(10_000), "a:b"], /not a role name/],
    [["define", "ok", "no-colon"], /not a permission/],
    [["define", "ok", "a:b", "--description"], /--description <value>' argument missing/],
    [["define", "ok", "a:b", "--descripton", "x"], /unknown option '--descripton'/],
    [["grant", "alice", "admin", "--description", "x"], /--description is for define only/],
    [["revoke", "alice", "admin", "extra"], /takes a username and a role/],
  ] as const) {
    const parsed = parseRolesCommand(args as unknown as string[]);
    assert.ok("problem" in parsed && problem.test(parsed.problem), `${JSON.stringify(args)} → ${JSON.stringify(parsed)}`);
  }
});

test("npm run roles: define, grant (the first administrator), list, revoke — on the service's database settings", async () => {
  const database = await createTestDatabase();
  const env = { DATABASE_URL: database.url };
  try {
    const users = new Users(database.db as unknown as Kysely<Database>);
    const alice = await users.create({ name: "Alice", username: "Alice", passwordDigest: "x" });

    const defined = await roles(env, "define", "auditor", "logs:read", "users:read", "--description", "Reads logs");
    assert.equal(defined.code, 0, defined.stderr);
    assert.equal(defined.stdout.trim(), "created role auditor: logs:read users:read");

    const granted = await roles(env, "grant", "alice", "admin");
    assert.equal(granted.code, 0, granted.stderr);
    assert.equal(granted.stdout.trim(), "granted admin to alice");
    assert.equal((await roles(env, "grant", "alice", "admin")).stdout.trim(), "alice already holds admin");
    assert.deepEqual(await new Roles(database.db as unknown as Kysely<Database>).permissionsOf(alice.id), ["*"]);

    const listed = await roles(env, "list");
    assert.match(listed.stdout, /^admin\t\*\t1 holder\(s\)\tEvery permission$/m);
    assert.match(listed.stdout, /^auditor\tlogs:read users:read\t0 holder\(s\)\tReads logs$/m);
    assert.equal((await roles(env, "list", "alice")).stdout.trim(), "alice: roles admin; permissions *");

    const unknownUser = await roles(env, "grant", "nobody", "admin");
    assert.equal(unknownUser.code, 1);
    assert.match(unknownUser.stdout, /no account with the username "nobody"/);
    const unknownRole = await roles(env, "grant", "alice", "ghost");
    assert.equal(unknownRole.code, 1);
    assert.match(unknownRole.stdout, /no role ghost: define it first/);
    const revokeUnknown = await roles(env, "revoke", "alice", "ghost");
    assert.equal(revokeUnknown.code, 1);
    assert.match(revokeUnknown.stdout, /no role ghost/);
    const usage = await roles(env, "grant", "alice", "Bad Role");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /not a role name[\s\S]*usage: vera-service roles/);

    const revoked = await roles(env, "revoke", "alice", "admin");
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoked admin from alice; the account's tokens minted until now no longer work/);
    assert.ok((await users.findById(alice.id))!.tokens_valid_after !== null);
    assert.equal((await roles(env, "revoke", "alice", "admin")).stdout.trim(), "alice does not hold admin");
  } finally {
    await database.drop();
  }
});
