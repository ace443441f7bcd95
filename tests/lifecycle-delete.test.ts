/**
 * The account lifecycle (README "The account actions"), Delete, then what holds across the
 * lifecycle actions: JWT attacks, the log, and Verify failing closed while the database is down.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import jwt from "jsonwebtoken";
import { ACTIONS_DIR, register, startAccounts, TEST_JWT_SECRET, type Accounts } from "./support/accounts.ts";
import { Dispatcher } from "../src/actions/dispatcher.ts";
import { loadActions } from "../src/actions/registry.ts";
import { createDatabase } from "../src/db/database.ts";
import { Revocations } from "../account/revocations.ts";
import { LoginThrottle } from "../account/throttle.ts";
import { Users } from "../account/users.ts";
import { providersWith } from "./support/providers.ts";
import { PASSWORD, startOfSecond, lifecycleHelpers } from "./support/lifecycle.ts";

describe("account lifecycle: Delete, attacks, logs, outages", () => {
  let accounts: Accounts;
  before(async () => {
    accounts = await startAccounts({ logLevel: "trace" });
  });
  after(() => accounts?.close());
  const { dispatch, summary, login, verify, isActive, claimsOf, userRow } = lifecycleHelpers(() => accounts);

  describe("Delete", () => {
    test("wrong password → 401 and nothing happens; missing → 400", async () => {
      const token = await register(accounts, { username: "keeper" });
      const wrong = await dispatch("Delete", { jwt: token, password: "not-the-password" });
      assert.deepEqual([...summary(wrong), wrong.fields], [401, "error", "Invalid password", null]);
      assert.equal((await dispatch("Delete", { jwt: token })).status_code, 400);
      assert.equal((await userRow(token)).deleted_at, null);
      assert.equal(await isActive(token), true);
    });

    test("soft delete: every token dies, Login 404, identifiers free, a new account never accepts the old tokens", async () => {
      const identity = { username: "Phoenix", email: "phoenix@example.com", phone_number: "+1 202-555-0199" };
      const first = await register(accounts, identity);
      const second = await login({ username: "phoenix" });
      await startOfSecond();
      const sameSecond = await login({ username: "phoenix" });
      const answer = await dispatch("Delete", { jwt: first, password: PASSWORD });
      assert.deepEqual([...summary(answer), answer.fields], [200, "success", "User deleted successfully", null]);

      const row = await userRow(first);
      assert.ok(row.deleted_at instanceof Date, "the row stays, marked deleted");
      for (const token of [first, second, sameSecond]) {
        assert.equal(await isActive(token), false);
        assert.equal((await dispatch("Show", { jwt: token })).message, "Invalid token: unknown account");
        assert.equal((await dispatch("Logout", { jwt: token })).status_code, 401);
      }
      assert.deepEqual(summary(await dispatch("Login", { username: "phoenix", password: PASSWORD })), [404, "error", "User not found"]);
      assert.equal((await dispatch("Delete", { jwt: second, password: PASSWORD })).status_code, 401, "no second delete");

      // The same username, email and phone make a new account at once.
      const reborn = await register(accounts, { ...identity, password: "another-password" });
      assert.notEqual(claimsOf(reborn).sub, claimsOf(first).sub, "a new account has a new id");
      assert.equal(await isActive(reborn), true);
      for (const token of [first, second, sameSecond]) {
        assert.equal(await isActive(token), false, "old tokens stay dead for the new account of the same name");
        assert.equal((await dispatch("Show", { jwt: token })).status_code, 401);
      }
      const shown = (await dispatch("Show", { jwt: reborn })).fields as { id: number; username: string };
      assert.equal(shown.username, "Phoenix");
      assert.notEqual(shown.id, row.id);
    });
  });

  test("JWT attacks on every action that takes a token: Verify {active: false}, the guarded ones 401, never a 5xx", async () => {
    const token = await register(accounts, { username: "attack-target" });
    const claims = claimsOf(token);
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const attacks: Array<[string, string]> = [
      ["alg none", `${b64({ alg: "none", typ: "JWT" })}.${payload}.`],
      ["HS384 with our secret", jwt.sign(claims, TEST_JWT_SECRET, { algorithm: "HS384" })],
      ["a kid on an HS256 token", jwt.sign(claims, TEST_JWT_SECRET, { algorithm: "HS256", keyid: "../../dev/null" })],
      ["a jku header", jwt.sign(claims, TEST_JWT_SECRET, { algorithm: "HS256", header: { alg: "HS256", jku: "http://127.0.0.1:9/" } as jwt.JwtHeader })],
      ["a jwk header", jwt.sign(claims, TEST_JWT_SECRET, { algorithm: "HS256", header: { alg: "HS256", jwk: { kty: "oct", k: "eA" } } as unknown as jwt.JwtHeader })],
      ["another subject", `${header}.${b64({ ...claims, sub: "1" })}.${signature}`],
      ["a header that is a string", `${b64("HS256")}.${payload}.${signature}`],
      ["a payload that is an array", `${header}.${b64([1])}.${signature}`],
    ];
    for (const [name, attack] of attacks) {
      const verified = await verify(attack);
      assert.deepEqual([verified.status_code, verified.fields], [200, { active: false }], `Verify: ${name}`);
      for (const [action, extra] of [["Show", {}], ["Edit", { name: "pwned" }], ["Delete", { password: PASSWORD }]] as const) {
        const answer = await dispatch(action, { jwt: attack, ...extra });
        assert.equal(answer.status_code, 401, `${action}: ${name} → ${answer.status_code} ${answer.message}`);
        assert.match(answer.message!, /^Invalid token: /);
      }
    }
    assert.equal((await userRow(token)).name, "Test User");
    assert.equal(await isActive(token), true);
  });

  test("the log tells user_updated and user_deleted, and never a password, digest or token", async () => {
    const password = "log-lifecycle-password";
    const token = await register(accounts, { username: "log-lifecycle", password });
    const edited = await dispatch("Edit", { jwt: token, password: "log-lifecycle-new", current_password: password });
    const fresh = (edited.fields as { jwt: string }).jwt;
    await dispatch("Edit", { jwt: fresh, email: "x@example.com", current_password: "wrong-password" });
    await dispatch("Verify", { jwt: fresh });
    await dispatch("Show", { jwt: fresh });
    const digest = (await userRow(fresh)).password_digest;
    await dispatch("Delete", { jwt: fresh, password: "log-lifecycle-new" });
    const lines = accounts.lines();
    const id = Number(claimsOf(token).sub);
    assert.ok(lines.some((l) => l.event === "user_updated" && l.user_id === id && JSON.stringify(l.changed) === '["password"]'));
    assert.ok(lines.some((l) => l.event === "password_confirmation_failed" && l.user_id === id && l.reason === "bad_password"));
    assert.ok(lines.some((l) => l.event === "user_deleted" && l.user_id === id));
    const text = accounts.text();
    for (const secret of [password, "log-lifecycle-new", "wrong-password", digest, token, fresh, fresh.split(".")[2]!]) {
      assert.ok(!text.includes(secret), `the log contains a secret: ${secret.slice(0, 12)}…`);
    }
  });

  test("the database down: Verify and Show answer 503, never active: true; a garbage token is still inactive", async () => {
    const token = await register(accounts, { username: "outage-verify" });
    assert.equal(await isActive(token), true);
    // A real database that cannot be reached (nothing listens on port 1).
    const down = createDatabase({ url: "postgres://postgres@127.0.0.1:1/none", connectTimeoutMs: 500 }, accounts.log);
    const services = {
      ...accounts.services,
      db: down,
      users: new Users(down),
      revocations: new Revocations(down),
      throttle: new LoginThrottle(down, accounts.services.config.login),
    };
    const dispatcher = new Dispatcher({
      registry: await loadActions({ dir: ACTIONS_DIR, log: accounts.log }),
      providers: providersWith(services),
      log: accounts.log,
      maxConcurrency: 4,
      queueLimit: 4,
      actionTimeoutMs: 10_000,
    });
    try {
      const ask = (action: string, fields: unknown) => dispatcher.dispatch({ action, fields, response_ref: "outage" });
      for (const [action, fields] of [
        ["Verify", { jwt: token }],
        ["Show", { jwt: token }],
        ["Edit", { jwt: token, name: "x" }],
        ["Delete", { jwt: token, password: PASSWORD }],
      ] as const) {
        const answer = await ask(action, fields);
        assert.deepEqual([answer.status_code, answer.message, answer.fields], [503, "Service unavailable", null], action);
      }
      const garbage = await ask("Verify", { jwt: "garbage" });
      assert.deepEqual([garbage.status_code, garbage.fields], [200, { active: false }]);
    } finally {
      await down.destroy();
    }
    assert.equal(await isActive(token), true, "the real database still says active");
  });
});
