/**
 * Logout through the real dispatcher on PostgreSQL: revocation by jti, race-safety, and every
 * kind of token that is not ours → 401.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import jwt from "jsonwebtoken";
import { register, startAccounts, TEST_JWT_SECRET, type Accounts } from "./support/accounts.ts";
import { authenticate } from "../account/authenticate.ts";

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("Logout", () => {
  let accounts: Accounts;
  let userId: number;
  before(async () => {
    accounts = await startAccounts();
    const token = await register(accounts, { username: "leaver" });
    userId = Number(jwt.decode(token, { json: true })!.sub);
  });
  after(() => accounts?.close());

  const logout = (token: unknown) => accounts.dispatch("Logout", { jwt: token });
  const login = async () => {
    const answer = await accounts.dispatch("Login", { username: "leaver", password: "password123" });
    assert.equal(answer.status_code, 200);
    return (answer.fields as { jwt: string }).jwt;
  };
  /** A token with our secret and claims, minus or plus whatever the test says. */
  const forge = (claims: Record<string, unknown>, options: jwt.SignOptions = {}, secret = TEST_JWT_SECRET) => {
    const payload = { jti: crypto.randomUUID(), sub: String(userId), iss: "vera-service", aud: "vera-clients", iat: now(), exp: now() + 600, ...claims };
    const present = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
    return jwt.sign(present, secret, { algorithm: "HS256", ...options });
  };

  test("200 Token successfully revoked, then 409 Token has already been revoked", async () => {
    const token = await login();
    const first = await logout(token);
    assert.deepEqual([first.status_code, first.status, first.message, first.fields], [200, "success", "Token successfully revoked", null]);
    const second = await logout(token);
    assert.deepEqual([second.status_code, second.status, second.message], [409, "error", "Token has already been revoked"]);
  });

  test("the revocation is stored by jti with the token's expiry, and the token stops authenticating", async () => {
    const token = await login();
    const { jti, exp } = jwt.decode(token, { json: true })!;
    assert.equal((await authenticate(accounts.services, token)).ok, true);
    assert.equal((await logout(token)).status_code, 200);
    const row = await accounts.services.db.selectFrom("revocations").selectAll().where("jti", "=", jti!).executeTakeFirstOrThrow();
    assert.equal(row.expires_at.getTime(), exp! * 1000);
    assert.equal(row.user_id, userId);
    const after = await authenticate(accounts.services, token);
    assert.equal(after.ok ? "ok" : after.reason, "revoked");
  });

  test("other tokens of the same account keep working", async () => {
    const [a, b] = [await login(), await login()];
    assert.equal((await logout(a)).status_code, 200);
    assert.equal((await logout(b)).status_code, 200);
  });

  test("five concurrent logouts of one token: one 200, four 409", async () => {
    const token = await login();
    const codes = (await Promise.all(Array.from({ length: 5 }, () => logout(token)))).map((a) => a.status_code).sort();
    assert.deepEqual(codes, [200, 409, 409, 409, 409]);
  });

  const invalid: Array<[string, () => string, string]> = [
    ["garbage", () => "garbage", "malformed"],
    ["three garbage parts", () => "a.b.c", "malformed"],
    ["another secret", () => forge({}, {}, "another-secret-that-is-also-32-bytes-long!"), "invalid signature"],
    ["expired (beyond the 60 s skew)", () => forge({ iat: now() - 3600, exp: now() - 61 }), "expired"],
    ["not yet valid", () => forge({ nbf: now() + 600 }), "not active yet"],
    ["alg none", () => `${b64({ alg: "none", typ: "JWT" })}.${b64({ jti: crypto.randomUUID(), sub: String(userId), iss: "vera-service", aud: "vera-clients", iat: now(), exp: now() + 600 })}.`, "algorithm not allowed"],
    ["HS512 with our secret", () => forge({}, { algorithm: "HS512" }), "algorithm not allowed"],
    ["no jti", () => forge({ jti: undefined }), "missing claims"],
    ["a jti that is not a UUID", () => forge({ jti: "1" }), "missing claims"],
    ["no exp", () => forge({ exp: undefined }), "missing claims"],
    ["wrong issuer", () => forge({ iss: "someone-else" }), "wrong issuer"],
    ["wrong audience", () => forge({ aud: "someone-else" }), "wrong audience"],
    ["no audience", () => forge({ aud: undefined }), "wrong audience"],
    ["larger than 8 KiB", () => forge({ padding: "x".repeat(9000) }), "too large"],
    ["of an account that does not exist", () => forge({ sub: "999999" }), "unknown account"],
    ["with a subject that is not an id", () => forge({ sub: "admin" }), "unknown account"],
  ];
  for (const [name, token, reason] of invalid) {
    test(`a token ${name} → 401 "Invalid token: ${reason}"`, async () => {
      const answer = await logout(token());
      assert.deepEqual([answer.status_code, answer.status, answer.message, answer.fields], [401, "error", `Invalid token: ${reason}`, null]);
    });
  }

  test("a correctly forged token (our secret, all claims) is accepted: the tests above differ in one thing only", async () => {
    assert.equal((await logout(forge({}))).status_code, 200);
  });

  test("a token of a deleted account → 401", async () => {
    const token = await register(accounts, { username: "deleted-later" });
    await accounts.services.db.updateTable("users").set({ deleted_at: new Date() }).where("username_normalized", "=", "deleted-later").execute();
    const answer = await logout(token);
    assert.deepEqual([answer.status_code, answer.message], [401, "Invalid token: unknown account"]);
  });

  test("a token issued before the account's valid-after time counts as revoked", async () => {
    const token = await register(accounts, { username: "cutoff" });
    await accounts.services.db.updateTable("users").set({ tokens_valid_after: new Date(Date.now() + 5000) }).where("username_normalized", "=", "cutoff").execute();
    const auth = await authenticate(accounts.services, token);
    assert.equal(auth.ok ? "ok" : auth.reason, "revoked");
    const answer = await logout(token);
    assert.deepEqual([answer.status_code, answer.message], [409, "Token has already been revoked"]);
  });

  test("revocations are purged only once their token expired more than the skew ago", async () => {
    const { revocations, db } = accounts.services;
    const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000);
    const old = crypto.randomUUID();
    const recent = crypto.randomUUID();
    await revocations.revoke({ jti: old, userId, expiresAt: at(120) });
    await revocations.revoke({ jti: recent, userId, expiresAt: at(30) });
    assert.ok((await revocations.purgeExpired(60)) >= 1);
    const left = (await db.selectFrom("revocations").select("jti").where("jti", "in", [old, recent]).execute()).map((r) => r.jti);
    assert.deepEqual(left, [recent]);
  });

  test("jwt is required and must be a string", async () => {
    assert.equal((await accounts.dispatch("Logout", {})).status_code, 400);
    assert.equal((await logout(42)).status_code, 400);
    assert.equal((await logout("")).status_code, 400);
  });
});
