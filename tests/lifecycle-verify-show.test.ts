/**
 * The account lifecycle (README "The account actions"), Verify and Show, through the real dispatcher
 * on PostgreSQL: their exact answers, and what an inactive or foreign token gets.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import jwt from "jsonwebtoken";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";
import { now, PASSWORD, lifecycleHelpers } from "./support/lifecycle.ts";

describe("account lifecycle: Verify and Show", () => {
  let accounts: Accounts;
  before(async () => {
    accounts = await startAccounts({ logLevel: "trace" });
  });
  after(() => accounts?.close());
  const { dispatch, summary, login, verify, isActive, claimsOf, userRow, forge } = lifecycleHelpers(() => accounts);

  describe("Verify", () => {
    test("an active token: 200 with exactly active, sub, jti, iat, exp, iss, aud, username, roles, permissions", async () => {
      const token = await register(accounts, { username: "Verity", email: "verity@example.com" });
      const answer = await verify(token);
      assert.deepEqual(summary(answer), [200, "success", "Token introspected"]);
      const claims = claimsOf(token);
      assert.deepEqual(answer.fields, {
        active: true,
        sub: claims.sub,
        jti: claims.jti,
        iat: claims.iat,
        exp: claims.exp,
        iss: "vera-service",
        aud: "vera-clients",
        username: "Verity",
        roles: [],
        permissions: [],
      });
    });

    test("nbf is there when the token has one; username is null for an email-only account", async () => {
      await register(accounts, { email: "nousername@example.com" });
      const notBefore = now() - 10;
      const token = await login({ email: "nousername@example.com", not_before: notBefore });
      const fields = (await verify(token)).fields as Record<string, unknown>;
      assert.equal(fields.active, true);
      assert.equal(fields.nbf, notBefore);
      assert.equal(fields.username, null);
    });

    test("revoked, expired, deleted-account, foreign, garbage tokens: 200 {active: false}, nothing else", async () => {
      const revoked = await register(accounts, { username: "verify-revoked" });
      assert.equal((await dispatch("Logout", { jwt: revoked })).status_code, 200);
      const deleted = await register(accounts, { username: "verify-deleted" });
      assert.equal((await dispatch("Delete", { jwt: deleted, password: PASSWORD })).status_code, 200);
      const live = await register(accounts, { username: "verify-live" });
      const sub = claimsOf(live).sub;
      const cases: Array<[string, string]> = [
        ["revoked", revoked],
        ["of a deleted account", deleted],
        ["expired", forge({ sub, iat: now() - 7200, exp: now() - 3600 })],
        ["signed with another secret", jwt.sign({ ...claimsOf(live) }, "another-secret-another-secret-another-secret")],
        ["of an unknown account", forge({ sub: "987654" })],
        ["garbage", "garbage"],
        ["empty", ""],
        ["alg none", `${Buffer.from('{"alg":"none"}').toString("base64url")}.${live.split(".")[1]}.`],
      ];
      for (const [name, token] of cases) {
        const answer = await verify(token);
        assert.deepEqual([...summary(answer), answer.fields], [200, "success", "Token introspected", { active: false }], name);
      }
      assert.equal(await isActive(live), true, "the live token next to them is active");
    });

    test("jwt is required and must be a string: 400 (a malformed request, not an inactive token)", async () => {
      assert.equal((await dispatch("Verify", {})).status_code, 400);
      assert.equal((await dispatch("Verify", { jwt: 5 })).status_code, 400);
      assert.equal((await dispatch("Verify", { jwt: "x", extra: 1 })).status_code, 400);
    });
  });

  describe("Show", () => {
    test("200 with exactly id, username, name, email, phone_number, created_at, updated_at, roles; never the digest", async () => {
      const token = await register(accounts, { name: "Sho Wing", username: "Shower", email: "Show@Example.com", phone_number: "+1 202-555-0143" });
      const answer = await dispatch("Show", { jwt: token });
      assert.deepEqual(summary(answer), [200, "success", "User found"]);
      const row = await userRow(token);
      assert.deepEqual(answer.fields, {
        id: row.id,
        username: "Shower",
        name: "Sho Wing",
        email: "Show@Example.com",
        phone_number: "+12025550143",
        created_at: row.created_at.toISOString(),
        updated_at: row.updated_at.toISOString(),
        roles: [],
      });
      const text = JSON.stringify(answer);
      assert.ok(!text.includes(row.password_digest) && !text.includes("$2"), "no digest in the answer");
    });

    test("401 Invalid token: <reason> for garbage, revoked and foreign tokens; 400 without jwt", async () => {
      const token = await register(accounts, { username: "show-revoked" });
      await dispatch("Logout", { jwt: token });
      const cases: Array<[string, string]> = [
        ["garbage", "Invalid token: malformed"],
        [token, "Invalid token: revoked"],
        [forge({ sub: "987654" }), "Invalid token: unknown account"],
        [forge({ sub: claimsOf(token).sub, exp: now() - 3600, iat: now() - 7200 }), "Invalid token: expired"],
      ];
      for (const [jwtValue, message] of cases) {
        const answer = await dispatch("Show", { jwt: jwtValue });
        assert.deepEqual([...summary(answer), answer.fields], [401, "error", message, null]);
      }
      const missing = await dispatch("Show", {});
      assert.equal(missing.status_code, 400);
      assert.match(missing.message!, /jwt: is required/);
    });
  });

});
