/**
 * Races the database must settle: many requests for one thing at once, through the real
 * dispatcher on PostgreSQL. Exactly one wins; the rest get the documented 409; never a 5xx.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import jwt from "jsonwebtoken";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";

const codes = (answers: Array<{ status_code: number }>) => answers.map((a) => a.status_code).sort();

describe("races", () => {
  let accounts: Accounts;
  before(async () => {
    // Twenty claims of one name at once would meet the conflict throttle (tests/enumeration.test.ts); the unique indexes are the subject here.
    accounts = await startAccounts({ logLevel: "warn", env: { LOGIN_MAX_FAILURES: "1000" } });
  });
  after(() => accounts?.close());

  test("10 concurrent Logouts of one token: one 200, nine 409, one revocation row", async () => {
    const token = await register(accounts, { username: "racer" });
    const answers = await Promise.all(Array.from({ length: 10 }, () => accounts.dispatch("Logout", { jwt: token })));
    assert.deepEqual(codes(answers), [200, ...Array(9).fill(409)]);
    const { jti } = jwt.decode(token, { json: true })!;
    const rows = await sql<{ n: string }>`select count(*) as n from revocations where jti = ${jti}`.execute(accounts.services.db);
    assert.equal(Number(rows.rows[0]!.n), 1);
  });

  for (const [what, fields] of [
    ["username", (i: number) => ({ username: "same_name", email: `u${i}@example.com` })],
    ["email (in different letter cases)", (i: number) => ({ username: `user_${i}`, email: i % 2 ? "Same@Example.com" : "same@example.COM" })],
    ["phone (in different formats)", (i: number) => ({ username: `phone_${i}`, phone_number: i % 2 ? "+1 202-555-0143" : "+12025550143" })],
  ] as const) {
    test(`20 concurrent Registers of one ${what}: one 201, nineteen 409`, async () => {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => accounts.dispatch("Register", { name: "R", password: "password123", ...fields(i) })));
      assert.deepEqual(codes(answers), [201, ...Array(19).fill(409)]);
      for (const a of answers) if (a.status_code === 409) assert.equal(a.message, "User already exists");
    });
  }
});
