/**
 * Register through the real dispatcher on PostgreSQL: the reference service's cases, plus
 * concurrency and the configurable limits.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { startAccounts, type Accounts } from "./support/accounts.ts";

const now = () => Math.floor(Date.now() / 1000);

describe("Register", () => {
  let accounts: Accounts;
  before(async () => {
    accounts = await startAccounts();
  });
  after(() => accounts?.close());

  const register = (fields: Record<string, unknown>) => accounts.dispatch("Register", { name: "Ada Lovelace", password: "password123", ...fields });
  const userRow = (id: number) => accounts.services.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const subject = (jwt: string) => {
    const verified = accounts.services.tokens.verify(jwt);
    assert.ok(verified.valid);
    return Number(verified.claims.sub);
  };

  test("by username: 201 with a JWT, the password stored only as a bcrypt digest", async () => {
    const answer = await register({ username: "ada" });
    assert.equal(answer.status_code, 201);
    assert.equal(answer.status, "success");
    const fields = answer.fields as { jwt: string; not_before: number | null; expires_at: number };
    assert.equal(typeof fields.jwt, "string");
    // Every token carries the account's roles; a new account's are none.
    assert.deepEqual(JSON.parse(Buffer.from(fields.jwt.split(".")[1]!, "base64url").toString()).roles, []);
    assert.equal(fields.not_before, null);
    assert.ok(Math.abs(fields.expires_at - (now() + 3600)) <= 2, "default lifetime JWT_TTL_SECONDS");
    const row = await userRow(subject(fields.jwt));
    assert.equal(row.username, "ada");
    assert.equal(row.name, "Ada Lovelace");
    assert.match(row.password_digest, /^\$2b\$04\$/);
    assert.notEqual(row.password_digest, "password123");
    assert.ok(bcrypt.compareSync("password123", row.password_digest));
  });

  test("by email", async () => {
    const answer = await register({ email: "Grace@Example.COM" });
    assert.equal(answer.status_code, 201);
    const row = await userRow(subject((answer.fields as { jwt: string }).jwt));
    assert.equal(row.email, "Grace@Example.COM");
    assert.equal(row.email_normalized, "grace@example.com");
    assert.equal(row.username, null);
  });

  test("with a phone: stored as E.164; the same number in another format → 409", async () => {
    const answer = await register({ username: "phoned", phone_number: "+1 (202) 555-0123" });
    assert.equal(answer.status_code, 201);
    const row = await userRow(subject((answer.fields as { jwt: string }).jwt));
    assert.equal(row.phone_number, "+12025550123");
    const again = await register({ username: "phoned2", phone_number: "+1-202-555-0123" });
    assert.deepEqual([again.status_code, again.message, again.fields], [409, "User already exists", null]);
  });

  for (const phone of ["invalid-phone", "123", "+1 202 555 0123 call me", "+1 555 0100"]) {
    test(`invalid phone ${JSON.stringify(phone)} → 400 "Invalid phone number..."`, async () => {
      const answer = await register({ username: `p${phone.length}x`, phone_number: phone });
      assert.equal(answer.status_code, 400);
      assert.match(answer.message ?? "", /^Invalid phone number/);
    });
  }

  test("no username and no email → 400", async () => {
    const answer = await register({});
    assert.deepEqual([answer.status_code, answer.message], [400, "At least one of username or email must be provided"]);
  });

  test("a phone alone is not enough → 400", async () => {
    const answer = await register({ phone_number: "+44 20 7946 0958" });
    assert.deepEqual([answer.status_code, answer.message], [400, "At least one of username or email must be provided"]);
  });

  test("not_before and expires_at valid → 201 with exactly those claims", async () => {
    const nbf = now() + 60;
    const exp = now() + 7200;
    const answer = await register({ username: "windowed", not_before: nbf, expires_at: exp });
    assert.equal(answer.status_code, 201);
    assert.deepEqual({ ...(answer.fields as object), jwt: undefined }, { jwt: undefined, not_before: nbf, expires_at: exp });
    const payload = JSON.parse(Buffer.from((answer.fields as { jwt: string }).jwt.split(".")[1]!, "base64url").toString());
    assert.equal(payload.nbf, nbf);
    assert.equal(payload.exp, exp);
  });

  test("not_before after expires_at → 400", async () => {
    const answer = await register({ username: "inverted", not_before: now() + 7200, expires_at: now() + 3600 });
    assert.deepEqual([answer.status_code, answer.message], [400, "Not before date must be before expiration date"]);
  });

  test("expires_at in the past → 400", async () => {
    const answer = await register({ username: "pastexp", expires_at: now() - 3600 });
    assert.deepEqual([answer.status_code, answer.message], [400, "Expiration date must be in the future"]);
  });

  test("expires_at beyond JWT_MAX_TTL_SECONDS → 400", async () => {
    const answer = await register({ username: "toolong", expires_at: now() + 2_592_000 + 100 });
    assert.deepEqual([answer.status_code, answer.message], [400, "Expiration date exceeds the maximum token lifetime"]);
  });

  test("only not_before → 201, the token lives JWT_TTL_SECONDS from then", async () => {
    const nbf = now() + 600;
    const answer = await register({ username: "onlynbf", not_before: nbf });
    assert.equal(answer.status_code, 201);
    assert.deepEqual({ ...(answer.fields as object), jwt: undefined }, { jwt: undefined, not_before: nbf, expires_at: nbf + 3600 });
  });

  test("only expires_at → 201", async () => {
    const exp = now() + 600;
    const answer = await register({ username: "onlyexp", expires_at: exp });
    assert.equal(answer.status_code, 201);
    assert.deepEqual({ ...(answer.fields as object), jwt: undefined }, { jwt: undefined, not_before: null, expires_at: exp });
  });

  test("not_before and expires_at must be whole unix seconds", async () => {
    const answer = await register({ username: "fraction", expires_at: now() + 600.5 });
    assert.equal(answer.status_code, 400);
    assert.match(answer.message ?? "", /^Invalid fields: expires_at/);
  });

  test("duplicate username (any case) or email (any case) → 409 User already exists", async () => {
    await register({ username: "Duplicate", email: "dup@example.com" });
    for (const fields of [{ username: "duplicate" }, { username: "DUPLICATE" }, { email: "DUP@example.com" }, { username: "other", email: "Dup@Example.com" }]) {
      const answer = await register(fields);
      assert.deepEqual([answer.status_code, answer.status, answer.message, answer.fields], [409, "error", "User already exists", null], JSON.stringify(fields));
    }
  });

  test("a soft-deleted account frees its username", async () => {
    const first = await register({ username: "reborn" });
    await accounts.services.db.updateTable("users").set({ deleted_at: new Date() }).where("id", "=", subject((first.fields as { jwt: string }).jwt)).execute();
    const second = await register({ username: "Reborn" });
    assert.equal(second.status_code, 201);
  });

  test("10 concurrent registrations of one username: one 201, nine 409", async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => register({ username: "racer", email: `racer${i}@example.com` })));
    const codes = answers.map((a) => a.status_code).sort();
    assert.deepEqual(codes, [201, ...Array(9).fill(409)]);
    const { count } = await accounts.services.db
      .selectFrom("users")
      .select((eb) => eb.fn.countAll<string>().as("count"))
      .where("username_normalized", "=", "racer")
      .executeTakeFirstOrThrow();
    assert.equal(Number(count), 1);
  });

  test("configured length limits answer like the dispatcher's own validation", async () => {
    const answer = await register({ username: "ab", password: "short" });
    assert.equal(answer.status_code, 400);
    assert.equal(answer.message, "Invalid fields: username: must be at least 3 characters; password: must be at least 8 characters");
    assert.deepEqual(answer.fields, {
      errors: [
        { field: "username", message: "must be at least 3 characters" },
        { field: "password", message: "must be at least 8 characters" },
      ],
    });
  });

  test("schema errors: bad email, unknown fields, prototype keys", async () => {
    const badEmail = await register({ email: "not-an-email" });
    assert.equal(badEmail.status_code, 400);
    assert.match(badEmail.message ?? "", /email: must be a valid email address/);
    const unknown = await accounts.dispatch("Register", JSON.parse('{"name":"x","username":"proto","password":"password123","__proto__":{"admin":true},"id":1}'));
    assert.equal(unknown.status_code, 400);
    assert.match(unknown.message ?? "", /__proto__: is not a known field/);
    assert.match(unknown.message ?? "", /id: is not a known field/);
  });

  test("null counts as absent", async () => {
    const answer = await register({ username: "nullish", email: null, phone_number: null, not_before: null });
    assert.equal(answer.status_code, 201);
  });
});
