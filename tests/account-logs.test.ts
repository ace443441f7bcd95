/**
 * The log tells what happened to accounts — user_created, login_success, login_failed with its
 * reason, login_throttled, token_revoked, by user id and jti — and never a password, a digest,
 * a JWT or the signing secret, at any level.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { startAccounts, TEST_JWT_SECRET, type Accounts } from "./support/accounts.ts";

describe("account logs", () => {
  let accounts: Accounts;
  before(async () => {
    accounts = await startAccounts({ logLevel: "trace", env: { LOGIN_MAX_FAILURES: "2", BCRYPT_COST: "5" } });
  });
  after(() => accounts?.close());

  test("auth events are logged as structured lines; secrets never are", async () => {
    const password = "correct-horse-battery";
    const wrong = "wrong-horse-battery";
    const jwts: string[] = [];
    const keep = (answer: { fields: unknown }) => {
      const token = (answer.fields as { jwt?: string } | null)?.jwt;
      if (token) jwts.push(token);
      return answer;
    };
    keep(await accounts.dispatch("Register", { name: "Logged", username: "logged", email: "logged@example.com", password }));
    keep(await accounts.dispatch("Login", { username: "logged", password }));
    await accounts.dispatch("Login", { username: "logged", password: wrong });
    await accounts.dispatch("Login", { username: "ghost", password: wrong });
    await accounts.dispatch("Login", { username: "logged", password: wrong });
    await accounts.dispatch("Login", { username: "logged", password }); // throttled now
    await accounts.dispatch("Logout", { jwt: jwts[0] });
    await accounts.dispatch("Logout", { jwt: jwts[0] });
    await accounts.dispatch("Logout", { jwt: jwts[1] + "tampered" });
    await accounts.dispatch("Register", { name: "x", username: "tiny", password: "sh0rt!" }); // 400 with a password in the fields
    // A digest below the current cost gets rehashed at login: both digests pass through memory.
    await accounts.services.db
      .insertInto("users")
      .values({ name: "old", username: "old", username_normalized: "old", password_digest: bcrypt.hashSync(password, 4) })
      .execute();
    keep(await accounts.dispatch("Login", { username: "old", password }));

    const lines = accounts.lines();
    const events = lines.filter((l) => typeof l.event === "string");
    const byEvent = (name: string) => events.filter((l) => l.event === name);
    const [created] = byEvent("user_created");
    assert.ok(created && typeof created.user_id === "number" && typeof created.jti === "string");
    assert.equal(byEvent("login_success").length, 2);
    assert.deepEqual(byEvent("login_failed").map((l) => l.reason), ["bad_password", "user_not_found", "bad_password"]);
    assert.equal(byEvent("login_throttled").length, 1);
    const [revoked] = byEvent("token_revoked");
    assert.ok(revoked && revoked.user_id === created.user_id && typeof revoked.jti === "string");
    assert.equal(byEvent("password_rehashed").length, 1);

    const text = accounts.text();
    const digests = (await accounts.services.db.selectFrom("users").select("password_digest").execute()).map((r) => r.password_digest);
    const secrets = [password, wrong, "sh0rt!", TEST_JWT_SECRET, ...digests, ...jwts, ...jwts.map((j) => j.split(".")[2]!)];
    for (const secret of secrets) assert.ok(!text.includes(secret), `the log contains a secret: ${secret.slice(0, 12)}…`);
    assert.doesNotMatch(text, /\$2[aby]\$\d\d\$/, "no bcrypt digest");
    assert.doesNotMatch(text, /eyJ[\w-]+\.eyJ[\w-]+/, "no JWT");
  });
});
