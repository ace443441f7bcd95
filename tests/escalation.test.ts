/**
 * Delegated administration never escalates (account/roles.ts): an account grants or revokes only
 * roles whose every permission it holds itself, and no action takes `*` from the last live
 * account holding it. The attack that found it: a "helpdesk" role of roles:assign alone made
 * itself admin, and locked the operator's administrator out.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";
import { ACCOUNT_MESSAGES } from "../account/messages.ts";
import { executeRolesCommand, parseRolesCommand, type RolesCommand } from "../account/roles-command.ts";
import type { CommandContext } from "../src/command.ts";

let accounts: Accounts;
const call = async (action: string, fields: unknown) => {
  const answer = await accounts.dispatch(action, fields);
  return { status: answer.status_code, message: answer.message };
};
const idOf = async (username: string) => (await accounts.services.users.findLive({ kind: "username", normalized: username }))!.id;
/** An account holding `roles` (granted as the operator does), and a token minted after. */
const account = async (username: string, ...roles: string[]) => {
  await register(accounts, { username });
  for (const role of roles) assert.equal(await accounts.services.roles.grant(await idOf(username), role, null), "granted");
  const answer = await accounts.dispatch("Login", { username, password: "password123" });
  return (answer.fields as { jwt: string }).jwt;
};
const revokeAllStar = async () => {
  for (const row of await accounts.services.db.selectFrom("user_roles").select(["user_id", "role"]).where("role", "=", "admin").execute()) {
    await accounts.services.roles.revoke(row.user_id, row.role, null);
  }
};

before(async () => {
  accounts = await startAccounts();
  await accounts.services.roles.define("helpdesk", ["roles:assign"]);
  await accounts.services.roles.define("editor", ["posts:edit", "posts:read"]);
  await accounts.services.roles.define("posts-admin", ["posts:*", "roles:assign"]);
});
after(() => accounts?.close());

describe("granting and revoking need every permission of the role", () => {
  test("the helpdesk reproduction: roles:assign alone cannot hand out or take away admin (403 naming *)", async () => {
    await revokeAllStar();
    const boss = await account("boss", "admin");
    const helpdesk = await account("helpdesk", "helpdesk");
    assert.deepEqual(await call("AssignRole", { jwt: helpdesk, username: "helpdesk", role: "admin" }), { status: 403, message: "Forbidden: role admin grants *, which you do not hold" });
    assert.deepEqual(await call("RevokeRole", { jwt: helpdesk, username: "boss", role: "admin" }), { status: 403, message: "Forbidden: role admin grants *, which you do not hold" });
    const login = await accounts.dispatch("Login", { username: "helpdesk", password: "password123" });
    assert.deepEqual(JSON.parse(Buffer.from((login.fields as { jwt: string }).jwt.split(".")[1]!, "base64url").toString()).roles, ["helpdesk"]);
    assert.equal((await call("Verify", { jwt: boss })).status, 200);
    assert.deepEqual(await accounts.services.roles.rolesOf(await idOf("boss")), ["admin"], "the administrator keeps the role");
  });

  test("a role within the caller's permissions may be granted and revoked; one beyond them names what is missing", async () => {
    const helpdesk = await account("helpdesk2", "helpdesk");
    await register(accounts, { username: "newbie" });
    assert.equal((await call("AssignRole", { jwt: helpdesk, username: "newbie", role: "helpdesk" })).status, 200, "helpdesk holds roles:assign");
    assert.equal((await call("RevokeRole", { jwt: helpdesk, username: "newbie", role: "helpdesk" })).status, 200);
    assert.deepEqual(await call("AssignRole", { jwt: helpdesk, username: "newbie", role: "editor" }), { status: 403, message: ACCOUNT_MESSAGES.forbiddenEscalation("editor", "posts:edit") });
    // posts:* covers posts:edit and posts:read; it does not cover roles:* or *.
    const postsAdmin = await account("posts-boss", "posts-admin");
    assert.equal((await call("AssignRole", { jwt: postsAdmin, username: "newbie", role: "editor" })).status, 200);
    assert.equal((await call("RevokeRole", { jwt: postsAdmin, username: "newbie", role: "editor" })).status, 200);
    assert.deepEqual(await call("AssignRole", { jwt: postsAdmin, username: "newbie", role: "admin" }), { status: 403, message: ACCOUNT_MESSAGES.forbiddenEscalation("admin", "*") });
    // The grant and revocation are recorded with their actor.
    const envelopes = await accounts.services.db.selectFrom("events").select("envelope").where("event_type", "in", ["role.assigned", "role.revoked"]).where("subject", "=", `user:${await idOf("newbie")}`).execute();
    const actors = envelopes.map((e) => (e.envelope as { actor: string }).actor);
    assert.deepEqual(actors, [`user:${await idOf("helpdesk2")}`, `user:${await idOf("helpdesk2")}`, `user:${await idOf("posts-boss")}`, `user:${await idOf("posts-boss")}`]);
  });

  test("permissions are read when the change is made: a caller whose role was revoked meanwhile cannot use it", async () => {
    const token = await account("shortlived", "posts-admin");
    await register(accounts, { username: "target" });
    await accounts.services.roles.revoke(await idOf("shortlived"), "posts-admin", null);
    // Its token ended with the revocation (401); what it held no longer counts either way.
    assert.equal((await call("AssignRole", { jwt: token, username: "target", role: "editor" })).status, 401);
  });
});

describe("the last account holding *", () => {
  test("cannot lose it through RevokeRole (409); with a second holder it can", async () => {
    await revokeAllStar();
    const first = await account("first-admin", "admin");
    assert.deepEqual(await call("RevokeRole", { jwt: first, username: "first-admin", role: "admin" }), { status: 409, message: ACCOUNT_MESSAGES.lastStarHolder });
    await account("second-admin");
    assert.equal((await call("AssignRole", { jwt: first, username: "second-admin", role: "admin" })).status, 200);
    assert.equal((await call("RevokeRole", { jwt: first, username: "second-admin", role: "admin" })).status, 200);
    assert.deepEqual(await call("RevokeRole", { jwt: first, username: "first-admin", role: "admin" }), { status: 409, message: ACCOUNT_MESSAGES.lastStarHolder });
    assert.equal(await accounts.services.roles.starHolders(), 1);
  });

  test("two holders revoking each other at once: one succeeds, the other gets 409; one holder remains", async () => {
    await revokeAllStar();
    const a = await account("mutual-a", "admin");
    const b = await account("mutual-b", "admin");
    const answers = await Promise.all([
      call("RevokeRole", { jwt: a, username: "mutual-b", role: "admin" }),
      call("RevokeRole", { jwt: b, username: "mutual-a", role: "admin" }),
    ]);
    // The loser is refused: 409 when both revocations reached the lock, or already without the
    // role when its own guard ran (401 for its ended token, 403 for the permission gone).
    const statuses = answers.map((x) => x.status).sort();
    assert.equal(statuses[0], 200, JSON.stringify(answers));
    assert.ok([401, 403, 409].includes(statuses[1]!), JSON.stringify(answers));
    assert.equal(await accounts.services.roles.starHolders(), 1);
  });

  test("cannot delete its own account (409); a holder among others can", async () => {
    await revokeAllStar();
    const only = await account("lonely-admin", "admin");
    assert.deepEqual(await call("Delete", { jwt: only, password: "password123" }), { status: 409, message: ACCOUNT_MESSAGES.lastStarHolder });
    const other = await account("other-admin", "admin");
    assert.equal((await call("Delete", { jwt: other, password: "password123" })).status, 200);
    assert.equal(await accounts.services.roles.starHolders(), 1);
  });

  test("the operator command can still do it, and says so", async () => {
    await revokeAllStar();
    await account("operated", "admin");
    const printed: string[] = [];
    const ctx = { get: () => accounts.services, print: (line: string) => printed.push(line) } as unknown as CommandContext;
    const command = parseRolesCommand(["revoke", "operated", "admin"]) as RolesCommand;
    assert.equal(await executeRolesCommand(command, ctx), 0);
    assert.equal(await accounts.services.roles.starHolders(), 0);
    assert.match(printed.join("\n"), /revoked admin from operated/);
    assert.match(printed.join("\n"), /no live account holds \* now/);
  });
});
