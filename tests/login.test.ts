/**
 * Login through the real dispatcher on PostgreSQL: identifiers, failures, the 72-byte rule,
 * NFC, digests written by the seed's Python service, and rehashing at a higher cost.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";
import { until } from "./support/consumer.ts";
import { ACCOUNT_MESSAGES } from "../account/messages.ts";

const now = () => Math.floor(Date.now() / 1000);

describe("Login", () => {
  let accounts: Accounts;
  let adaId: number;
  before(async () => {
    accounts = await startAccounts();
    const jwt = await register(accounts, { username: "Ada", email: "Ada@Example.com", phone_number: "+44 20 7946 0958" });
    adaId = Number(JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).sub);
  });
  after(() => accounts?.close());

  const login = (fields: Record<string, unknown>) => accounts.dispatch("Login", { password: "password123", ...fields });
  const subjectOf = (answer: { fields: unknown }) => {
    const verified = accounts.services.tokens.verify((answer.fields as { jwt: string }).jwt);
    assert.ok(verified.valid, "the JWT verifies");
    return Number(verified.claims.sub);
  };
  /** Inserts an account directly, as data migrated from the seed's service would be. */
  const insertUser = async (username: string, passwordDigest: string) => {
    const row = await accounts.services.db
      .insertInto("users")
      .values({ name: username, username, username_normalized: username.toLowerCase(), password_digest: passwordDigest })
      .returning("id")
      .executeTakeFirstOrThrow();
    return row.id;
  };

  test("by username, in any letter case → 200 with a JWT for the account", async () => {
    for (const username of ["Ada", "ada", "ADA"]) {
      const answer = await login({ username });
      assert.equal(answer.status_code, 200, username);
      assert.equal(answer.status, "success");
      assert.equal(subjectOf(answer), adaId);
      const fields = answer.fields as { not_before: number | null; expires_at: number };
      assert.equal(fields.not_before, null);
      assert.ok(Math.abs(fields.expires_at - (now() + 3600)) <= 2);
    }
  });

  test("by email, in any letter case", async () => {
    for (const email of ["Ada@Example.com", "ada@example.com", "ADA@EXAMPLE.COM"]) {
      const answer = await login({ email });
      assert.equal(answer.status_code, 200, email);
      assert.equal(subjectOf(answer), adaId);
    }
  });

  test("by phone, in any format", async () => {
    for (const phone_number of ["+442079460958", "+44 20 7946 0958", "+44 (20) 7946-0958"]) {
      const answer = await login({ phone_number });
      assert.equal(answer.status_code, 200, phone_number);
      assert.equal(subjectOf(answer), adaId);
    }
  });

  test("an unparseable phone → 400", async () => {
    const answer = await login({ phone_number: "invalid-phone" });
    assert.equal(answer.status_code, 400);
    assert.match(answer.message ?? "", /^Invalid phone number/);
  });

  test("with not_before and expires_at", async () => {
    const nbf = now() + 30;
    const exp = now() + 600;
    const answer = await login({ username: "ada", not_before: nbf, expires_at: exp });
    assert.equal(answer.status_code, 200);
    assert.deepEqual({ ...(answer.fields as object), jwt: undefined }, { jwt: undefined, not_before: nbf, expires_at: exp });
    const inverted = await login({ username: "ada", not_before: exp + 1, expires_at: exp });
    assert.deepEqual([inverted.status_code, inverted.message], [400, "Not before date must be before expiration date"]);
    const past = await login({ username: "ada", expires_at: now() - 1 });
    assert.deepEqual([past.status_code, past.message], [400, "Expiration date must be in the future"]);
  });

  test("no identifier → 400; two identifiers → 400", async () => {
    const none = await login({});
    assert.deepEqual([none.status_code, none.message], [400, "Exactly one identifier (username, email, or phone_number) must be provided"]);
    const two = await login({ username: "ada", email: "ada@example.com" });
    assert.deepEqual([two.status_code, two.message], [400, "Only one identifier (username, email, or phone_number) can be provided"]);
    const three = await login({ username: "ada", email: "ada@example.com", phone_number: "+442079460958" });
    assert.equal(three.status_code, 400);
  });

  test("unknown user → 404; wrong password → 401", async () => {
    const unknown = await login({ username: "nobody" });
    assert.deepEqual([unknown.status_code, unknown.status, unknown.message, unknown.fields], [404, "error", "User not found", null]);
    const wrong = await login({ username: "ada", password: "wrong-password" });
    assert.deepEqual([wrong.status_code, wrong.message, wrong.fields], [401, "Invalid password", null]);
  });

  test("a soft-deleted account answers like an unknown one (404), even with the right password", async () => {
    await register(accounts, { username: "ghost", email: "ghost@example.com" });
    await accounts.services.db.updateTable("users").set({ deleted_at: new Date() }).where("username_normalized", "=", "ghost").execute();
    for (const fields of [{ username: "ghost" }, { email: "ghost@example.com" }]) {
      const answer = await login(fields);
      assert.deepEqual([answer.status_code, answer.message], [404, "User not found"]);
    }
  });

  test("72-byte rule: 72 bytes work; more is refused with 400, never truncated", async () => {
    const ascii72 = "a".repeat(72);
    await register(accounts, { username: "long72", password: ascii72 });
    assert.equal((await login({ username: "long72", password: ascii72 })).status_code, 200);
    // bcrypt alone would accept this: its first 72 bytes equal the real password.
    const truncatedMatch = await login({ username: "long72", password: ascii72 + "x" });
    assert.equal(truncatedMatch.status_code, 400);
    assert.equal(truncatedMatch.message, "Invalid fields: password: must be at most 72 characters");

    // 36 × "é" is 36 characters but 72 bytes; one more is 74 bytes in 37 characters.
    const accented = "é".repeat(36);
    await register(accounts, { username: "accent72", password: accented });
    assert.equal((await login({ username: "accent72", password: accented })).status_code, 200);
    const over = await login({ username: "accent72", password: accented + "é" });
    assert.equal(over.status_code, 400);
    assert.equal(over.message, "Invalid fields: password: must be at most 72 bytes in UTF-8 (bcrypt would ignore the rest)");
    assert.deepEqual(over.fields, { errors: [{ field: "password", message: "must be at most 72 bytes in UTF-8 (bcrypt would ignore the rest)" }] });

    const registerOver = await accounts.dispatch("Register", { name: "x", username: "accent74", password: accented + "é" });
    assert.equal(registerOver.status_code, 400);
    assert.match(registerOver.message ?? "", /password: must be at most 72 bytes in UTF-8/);
    const emoji = await accounts.dispatch("Register", { name: "x", username: "emoji", password: "🔑".repeat(19) });
    assert.equal(emoji.status_code, 400, "19 four-byte characters are 76 bytes");
  });

  test("passwords are NFC-normalized the same way at Register and Login", async () => {
    const decomposed = "cafe\u0301-secret"; // e + combining acute
    const composed = "caf\u00e9-secret";
    await register(accounts, { username: "nfc", password: decomposed });
    assert.equal((await login({ username: "nfc", password: composed })).status_code, 200);
    assert.equal((await login({ username: "nfc", password: decomposed })).status_code, 200);
    // 36 decomposed "é" are 108 bytes as typed but 72 after NFC: accepted.
    const typed = "e\u0301".repeat(36);
    await register(accounts, { username: "nfc72", password: typed });
    assert.equal((await login({ username: "nfc72", password: "é".repeat(36) })).status_code, 200);
  });

  test("digests written by Python's bcrypt ($2b$) verify", async () => {
    // From pyca/bcrypt's own test vectors (tests/test_bcrypt.py, `_test_vectors`): hashes that
    // Python's bcrypt.hashpw produced and asserts, i.e. exactly what the seed's service stored.
    const pythonVectors = [
      ["Kk4DQuMMfZL9o", "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"],
      ["9IeRXmnGxMYbs", "$2b$04$pQ7gRO7e6wx/936oXhNjrOUNOHL1D0h1N2IDbJZYs.1ppzSof6SPy"],
    ] as const;
    for (const [i, [password, digest]] of pythonVectors.entries()) {
      await insertUser(`python${i}`, digest);
      assert.equal((await login({ username: `python${i}`, password })).status_code, 200);
      assert.equal((await login({ username: `python${i}`, password: password + "!" })).status_code, 401);
    }
  });

  test("a digest of \"password123\" under each prefix ($2a$, $2b$, $2y$) verifies", async () => {
    // bcrypt.hashpw(b"password123", bcrypt.gensalt(4)) cannot run here (no PyPI); build the same
    // shape with bcryptjs instead. $2a$, $2b$ and $2y$ differ only in the prefix for passwords
    // shorter than 255 bytes: $2b$ fixed OpenBSD's wrap-around of the length counter at 256
    // (a 255+ byte password), $2y$ is crypt_blowfish's name for the same fixed algorithm.
    const digest = bcrypt.hashSync("password123", 4).slice(4);
    for (const prefix of ["$2a$", "$2b$", "$2y$"]) {
      const username = `prefix${prefix.charAt(2)}`;
      await insertUser(username, prefix + digest);
      const answer = await login({ username });
      assert.equal(answer.status_code, 200, prefix);
    }
  });

  test("a digest below the current cost is rehashed at login", async () => {
    const id = await insertUser("oldcost", bcrypt.hashSync("password123", 4).replace(/^\$2b\$/, "$2a$"));
    const stronger = await startAccounts({ database: accounts.database, env: { BCRYPT_COST: "5" } });
    try {
      assert.equal((await stronger.dispatch("Login", { username: "oldcost", password: "password123" })).status_code, 200);
      const { password_digest } = await accounts.services.db.selectFrom("users").select("password_digest").where("id", "=", id).executeTakeFirstOrThrow();
      assert.match(password_digest, /^\$2b\$05\$/);
      assert.equal((await stronger.dispatch("Login", { username: "oldcost", password: "password123" })).status_code, 200);
      assert.ok(stronger.lines().some((l) => l.event === "password_rehashed" && l.user_id === id));
    } finally {
      await stronger.close();
    }
  });

  test("logins in flight while the password changes: 401 'sign in again', never 'Invalid password' for the password that was right", async () => {
    const slow = await startAccounts({ database: accounts.database, env: { BCRYPT_COST: "10", BCRYPT_THREADS: "1" } });
    try {
      await register(slow, { username: "changing" });
      const { id } = await slow.services.db.selectFrom("users").select("id").where("username", "=", "changing").executeTakeFirstOrThrow();
      const logins = Array.from({ length: 5 }, () => slow.dispatch("Login", { username: "changing", password: "password123" }));
      // Every login has read the account and reserved its attempt: they wait for bcrypt now.
      await until(async () => {
        const rows = await slow.services.db.selectFrom("login_attempts").select("id").where("identifier", "=", `account:${id}`).execute();
        return rows.length === 5;
      });
      // Made here, not in the lane, where it would wait behind the logins.
      const digest = bcrypt.hashSync("a new password", 4);
      assert.ok(await slow.services.users.update(id, { passwordDigest: digest, tokensValidAfter: new Date() }, { validAfter: null }));
      const answers = await Promise.all(logins);
      const messages = answers.map((a) => (a.status_code === 200 ? "200" : a.message));
      assert.ok(messages.every((m) => m === "200" || m === ACCOUNT_MESSAGES.signInAgain), messages.join(" | "));
      assert.ok(messages.filter((m) => m === ACCOUNT_MESSAGES.signInAgain).length >= 3, messages.join(" | "));
      assert.equal((await slow.dispatch("Login", { username: "changing", password: "password123" })).message, ACCOUNT_MESSAGES.invalidPassword, "after the change, the old password is wrong");
    } finally {
      await slow.close();
    }
  });
});
