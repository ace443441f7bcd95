/**
 * The account lifecycle actions (README "The account actions") — Verify, Show, Edit, Delete —
 * through the real dispatcher on PostgreSQL: their exact answers, the valid-after rule down to
 * the second (tokens minted before a password change or deletion die, a login right after works),
 * concurrent Edits racing for one username, and Verify failing closed while the database is down.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import jwt from "jsonwebtoken";
import { ACTIONS_DIR, register, startAccounts, TEST_JWT_SECRET, type Accounts } from "./support/accounts.ts";
import type { AnswerPayload } from "../src/actions/responses.ts";
import { Dispatcher } from "../src/actions/dispatcher.ts";
import { loadActions } from "../src/actions/registry.ts";
import { createDatabase } from "../src/db/database.ts";
import { Revocations } from "../account/revocations.ts";
import { LoginThrottle } from "../account/throttle.ts";
import { IdentifierTakenError, Users } from "../account/users.ts";
import { mintToken } from "../account/mint.ts";
import { providersWith } from "./support/providers.ts";

const now = () => Math.floor(Date.now() / 1000);
const PASSWORD = "password123";

/** Resolves just after the next whole second begins, so what follows lands within one second. */
async function startOfSecond(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
}

describe("account lifecycle", () => {
  let accounts: Accounts;
  before(async () => {
    accounts = await startAccounts({ logLevel: "trace" });
  });
  after(() => accounts?.close());

  const dispatch = (action: string, fields: unknown) => accounts.dispatch(action, fields);
  const summary = (a: AnswerPayload) => [a.status_code, a.status, a.message];
  const login = async (fields: Record<string, unknown>, password = PASSWORD) => {
    const answer = await dispatch("Login", { ...fields, password });
    assert.equal(answer.status_code, 200, `Login: ${answer.message}`);
    return (answer.fields as { jwt: string }).jwt;
  };
  const verify = (token: string) => dispatch("Verify", { jwt: token });
  const isActive = async (token: string) => {
    const answer = await verify(token);
    assert.equal(answer.status_code, 200);
    const fields = answer.fields as { active: boolean };
    if (!fields.active) assert.deepEqual(fields, { active: false }, "an inactive token gets {active: false} and nothing else");
    return fields.active;
  };
  const claimsOf = (token: string) => jwt.decode(token, { json: true })!;
  const userRow = (token: string) =>
    accounts.services.db.selectFrom("users").selectAll().where("id", "=", Number(claimsOf(token).sub)).executeTakeFirstOrThrow();
  /** A token with our secret and the given claims (for expired and foreign-subject cases). */
  const forge = (claims: Record<string, unknown>) =>
    jwt.sign({ jti: crypto.randomUUID(), iss: "vera-service", aud: "vera-clients", iat: now(), exp: now() + 600, ...claims }, TEST_JWT_SECRET);

  describe("Verify", () => {
    test("an active token: 200 with exactly active, sub, jti, iat, exp, iss, aud, username", async () => {
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
    test("200 with exactly id, username, name, email, phone_number, created_at, updated_at; never the digest", async () => {
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

  describe("Edit", () => {
    const edit = (token: string, fields: Record<string, unknown>) => dispatch("Edit", { jwt: token, ...fields });

    test("none of the five fields: 400 with the issue's message", async () => {
      const token = await register(accounts, { username: "edit-nothing" });
      for (const fields of [{}, { current_password: PASSWORD }]) {
        const answer = await edit(token, fields);
        assert.deepEqual(
          [...summary(answer), answer.fields],
          [400, "error", "At least one field (username, name, email, phone_number, or password) must be provided", null],
        );
      }
    });

    test("name changes without current_password, username with it; Show and Login see them", async () => {
      const token = await register(accounts, { name: "Before", username: "renamer" });
      const before = await userRow(token);
      assert.equal((await edit(token, { username: "Renamed" })).status_code, 400, "a new username needs current_password");
      assert.equal((await edit(token, { name: "After" })).status_code, 200, "a name alone does not");
      const answer = await edit(token, { name: "After", username: "Renamed", current_password: PASSWORD });
      assert.deepEqual([...summary(answer), answer.fields], [200, "success", "User updated successfully", null]);
      const shown = (await dispatch("Show", { jwt: token })).fields as { name: string; username: string; updated_at: string };
      assert.equal(shown.name, "After");
      assert.equal(shown.username, "Renamed");
      assert.ok(new Date(shown.updated_at) > before.updated_at, "updated_at moves");
      await login({ username: "renamed" });
      assert.equal((await dispatch("Login", { username: "renamer", password: PASSWORD })).status_code, 404);
      assert.equal(await isActive(token), true, "a profile change signs nobody out");
      // A change of letter case of one's own username is no conflict with oneself.
      assert.equal((await edit(token, { username: "RENAMED", current_password: PASSWORD })).status_code, 200);
    });

    test("username, password, email and phone need current_password: missing → 400, wrong → 401, right → 200", async () => {
      const token = await register(accounts, { username: "guarded-edit", email: "guarded@example.com" });
      for (const change of [{ username: "guarded-new" }, { email: "new-guarded@example.com" }, { phone_number: "+44 20 7946 0958" }, { password: "new-password-1" }]) {
        const missing = await edit(token, change);
        assert.equal(missing.status_code, 400);
        assert.equal(missing.message, "Invalid fields: current_password: is required to change the username, email, phone number or password");
        const wrong = await edit(token, { ...change, current_password: "not-the-password" });
        assert.deepEqual([...summary(wrong), wrong.fields], [401, "error", "Invalid password", null]);
      }
      // Given when not needed, it is checked all the same.
      assert.equal((await edit(token, { name: "Renamed", current_password: "not-the-password" })).status_code, 401);
      const row = await userRow(token);
      assert.equal(row.email, "guarded@example.com", "nothing changed on a refusal");
      assert.equal(row.name, "Test User");
      assert.equal(row.phone_number, null);
      const ok = await edit(token, { email: "New-Guarded@example.com", phone_number: "+44 20 7946 0958", current_password: PASSWORD });
      assert.equal(ok.status_code, 200);
      const after = await userRow(token);
      assert.deepEqual([after.email, after.email_normalized, after.phone_number], ["New-Guarded@example.com", "new-guarded@example.com", "+442079460958"]);
      await login({ email: "NEW-GUARDED@example.com" });
      await login({ phone_number: "+442079460958" });
      assert.equal(await isActive(token), true, "an email or phone change signs nobody out");
    });

    test("bad values: lengths, the 72-byte rule, a bad phone, bad email → 400", async () => {
      const token = await register(accounts, { username: "edit-bad-values" });
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ name: "" }, /^Invalid fields: name: must be at least 1 character$/],
        [{ username: "ab" }, /^Invalid fields: username: must be at least 3 characters$/],
        [{ username: "with space" }, /^Invalid fields: username: must not contain spaces/],
        [{ email: "not-an-email", current_password: PASSWORD }, /^Invalid fields: email: must be a valid email address$/],
        [{ password: "short", current_password: PASSWORD }, /^Invalid fields: password: must be at least 8 characters$/],
        [{ password: "é".repeat(40), current_password: PASSWORD }, /^Invalid fields: password: must be at most 72 bytes/],
        [{ phone_number: "12345", current_password: PASSWORD }, /^Invalid phone number/],
        [{ password: "new-password-1", current_password: "é".repeat(40) }, /^Invalid fields: current_password: must be at most 72 bytes/],
      ];
      for (const [fields, message] of cases) {
        const answer = await edit(token, fields);
        assert.equal(answer.status_code, 400, JSON.stringify(fields));
        assert.match(answer.message!, message);
      }
      assert.equal((await userRow(token)).name, "Test User", "nothing changed");
    });

    test("taken identifiers: one 409 for all three, and only once the password is confirmed", async () => {
      await register(accounts, { username: "Holder", email: "holder@example.com", phone_number: "+1 202-555-0188" });
      const token = await register(accounts, { username: "wants-more" });
      for (const fields of [{ username: "HOLDER" }, { email: "Holder@Example.COM" }, { phone_number: "+1 (202) 555-0188" }]) {
        // Nothing about the name before the password: no token alone can ask which names are taken.
        assert.equal((await edit(token, fields)).status_code, 400, JSON.stringify(fields));
        assert.equal((await edit(token, { ...fields, current_password: "not-the-password" })).status_code, 401, JSON.stringify(fields));
        const answer = await edit(token, { ...fields, current_password: PASSWORD });
        assert.deepEqual([...summary(answer), answer.fields], [409, "error", "Username, email or phone number already in use", null]);
      }
      // The database's unique indexes decide.
      const holder = await accounts.services.users.findLive({ kind: "username", normalized: "holder" });
      const mine = await userRow(token);
      await assert.rejects(
        accounts.services.users.update(mine.id, { email: "HOLDER@example.com" }, { validAfter: mine.tokens_valid_after }),
        (error: unknown) => error instanceof IdentifierTakenError && error.kind === "email",
      );
      assert.ok(holder);
    });

    test("id, digests and timestamps in the payload are unknown fields: 400", async () => {
      const token = await register(accounts, { username: "edit-unknown" });
      for (const field of ["id", "password_digest", "created_at", "updated_at", "deleted_at", "tokens_valid_after", "username_normalized", "sub"]) {
        const answer = await edit(token, { name: "x", [field]: field === "id" ? 1 : "2020-01-01T00:00:00Z" });
        assert.equal(answer.status_code, 400, field);
        assert.equal(answer.message, `Invalid fields: ${field}: is not a known field`);
      }
      assert.equal((await userRow(token)).name, "Test User", "nothing changed");
    });

    test("a password change invalidates every earlier token, also those of the same second; a login right after works", async () => {
      await register(accounts, { username: "rotator" });
      for (let attempt = 1; ; attempt++) {
        const current = attempt === 1 ? PASSWORD : `new-password-${attempt - 1}`;
        const older = await login({ username: "rotator" }, current);
        await startOfSecond();
        // Minted in the same second as the change, just before it.
        const [caller, sameSecond] = [await login({ username: "rotator" }, current), await login({ username: "rotator" }, current)];
        const previous = (await userRow(caller)).tokens_valid_after?.getTime();
        const editing = dispatch("Edit", { jwt: caller, password: `new-password-${attempt}`, current_password: current });
        // Edit itself waits for the next second to mint its new token; log in while it waits,
        // as soon as the change is committed.
        let changed: Date | null = null;
        const deadline = Date.now() + 10_000;
        while ((changed = (await userRow(caller)).tokens_valid_after)?.getTime() === previous) {
          assert.ok(Date.now() < deadline, "the password change never committed");
          await new Promise((r) => setTimeout(r, 1));
        }
        const beforeLogin = Date.now();
        const fresh = await login({ username: "rotator" }, `new-password-${attempt}`);
        const answer = await editing;
        assert.deepEqual(summary(answer), [200, "success", "User updated successfully"]);
        const cutoff = Math.floor(changed!.getTime() / 1000);
        if (claimsOf(sameSecond).iat !== cutoff || Math.floor(beforeLogin / 1000) !== cutoff) {
          assert.ok(attempt < 3, "could not land a login and a change within one second");
          continue; // a slow machine crossed a second boundary: try again
        }
        for (const [name, token] of [["older", older], ["the caller's", caller], ["same second, before", sameSecond]] as const) {
          assert.equal(await isActive(token), false, `${name} token after the password change`);
          assert.equal((await dispatch("Show", { jwt: token })).message, "Invalid token: revoked", name);
        }
        // The login that started within the change's second works, and so does Edit's own new token.
        assert.equal(await isActive(fresh), true, "a login right after the change");
        assert.ok(claimsOf(fresh).iat! > cutoff);
        const handed = answer.fields as { jwt: string; not_before: number | null; expires_at: number };
        assert.equal(await isActive(handed.jwt), true, "the token Edit hands back");
        assert.equal(handed.expires_at, claimsOf(caller).exp, "the new token keeps the old one's lifetime");
        assert.equal(handed.not_before, null);
        // The old password is gone, the new one works.
        assert.equal((await dispatch("Login", { username: "rotator", password: current })).status_code, 401);
        return;
      }
    });

    test("a login whose password was changed while bcrypt compared it gets no token (mintToken reads the row again)", async () => {
      const token = await register(accounts, { username: "login-race" });
      const stale = await userRow(token);
      const { lifetime } = accounts.services.tokens.lifetime({}) as { lifetime: { expiresAt: number } };
      assert.ok(await mintToken(accounts.services, stale, lifetime), "the row unchanged: a token");
      // The change lands between the login's read of the row and its signing.
      await accounts.services.users.update(stale.id, { passwordDigest: stale.password_digest, tokensValidAfter: new Date() }, { validAfter: null });
      assert.equal(await mintToken(accounts.services, stale, lifetime), undefined);
      await accounts.services.users.softDelete(stale.id, new Date());
      assert.equal(await mintToken(accounts.services, await userRow(token), lifetime), undefined, "nor for a deleted account");
    });

    test("concurrent Edits racing for one username: exactly one 200, the others 409, no 5xx", async () => {
      const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => register(accounts, { username: `racer-${i}` })));
      const answers = await Promise.all(tokens.map((token) => edit(token, { username: "Finish-Line", current_password: PASSWORD })));
      const codes = answers.map((a) => a.status_code).sort();
      assert.deepEqual(codes, [200, 409, 409, 409, 409, 409, 409, 409]);
      for (const answer of answers.filter((a) => a.status_code === 409)) assert.equal(answer.message, "Username, email or phone number already in use");
      const winners = await accounts.services.db.selectFrom("users").select("id").where("username_normalized", "=", "finish-line").execute();
      assert.equal(winners.length, 1);
    });

    test("concurrent password changes with one token: one wins, the other is refused, and one token survives", async () => {
      const token = await register(accounts, { username: "double-change" });
      const answers = await Promise.all(
        ["first-new-password", "second-new-password"].map((password) => edit(token, { password, current_password: PASSWORD })),
      );
      const codes = answers.map((a) => a.status_code).sort();
      assert.ok(codes.every((c) => c < 500), `no 5xx: ${codes}`);
      assert.equal(codes.filter((c) => c === 200).length, 1, `exactly one change: ${codes}`);
      const winner = answers.find((a) => a.status_code === 200)!;
      assert.equal(await isActive((winner.fields as { jwt: string }).jwt), true);
      assert.equal(await isActive(token), false);
    });

    test("wrong current passwords count against a throttle of the account: 429, then even the right one", async () => {
      const token = await register(accounts, { username: "edit-throttled" });
      const max = accounts.services.config.login.maxFailures;
      for (let i = 0; i < max; i++) {
        assert.equal((await edit(token, { password: "brand-new-password", current_password: `guess-${i}` })).status_code, 401);
      }
      const throttled = await edit(token, { password: "brand-new-password", current_password: PASSWORD });
      assert.deepEqual(summary(throttled), [429, "error", "Too many attempts, try again later"]);
      assert.equal((await dispatch("Delete", { jwt: token, password: PASSWORD })).status_code, 429, "Delete shares the count");
      assert.equal((await edit(token, { name: "still allowed" })).status_code, 200, "edits without a password are not throttled");
      // One counter per account: Login counts there too, whichever identifier it is given.
      assert.equal((await dispatch("Login", { username: "edit-throttled", password: PASSWORD })).status_code, 429, "Login shares the count");
    });
  });

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
