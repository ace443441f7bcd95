/**
 * The account lifecycle (README "The account actions"), Edit, through the real dispatcher on
 * PostgreSQL: its exact answers, the valid-after rule down to the second (tokens minted before a
 * password change die, a login right after works), concurrent Edits racing for one username.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";
import { IdentifierTakenError } from "../account/users.ts";
import { mintToken } from "../account/mint.ts";
import { PASSWORD, startOfSecond, lifecycleHelpers } from "./support/lifecycle.ts";

describe("account lifecycle: Edit", () => {
  let accounts: Accounts;
  before(async () => {
    accounts = await startAccounts({ logLevel: "trace" });
  });
  after(() => accounts?.close());
  const { dispatch, summary, login, isActive, claimsOf, userRow } = lifecycleHelpers(() => accounts);

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
      // A cut-off moved without a new password (a role revoked meanwhile): signed again after it.
      const cutoff = new Date();
      await accounts.services.users.update(stale.id, { tokensValidAfter: cutoff }, { validAfter: null });
      const resigned = await mintToken(accounts.services, stale, lifetime);
      assert.ok(resigned && resigned.claims.iat > Math.floor(cutoff.getTime() / 1000), "a token from after the cut-off");
      // The change lands between the login's read of the row and its signing.
      await accounts.services.users.update(stale.id, { passwordDigest: bcrypt.hashSync("another password", 4), tokensValidAfter: new Date() }, { validAfter: cutoff });
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

});
