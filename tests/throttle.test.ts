/**
 * The login throttle, kept in PostgreSQL: per account whichever identifier or action carried
 * the wrong password, per normalized identifier for unknown ones, the right password refused
 * too, other accounts unaffected, exact under bursts, bounded under floods, and shared by
 * separate consumer processes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";
import { LoginThrottle } from "../account/throttle.ts";

const run = promisify(execFile);
const CLIENT = fileURLToPath(new URL("./support/login-client.ts", import.meta.url));
const MAX = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The account id a token of ours names (its `sub`). */
const idOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).sub as string;

describe("login throttle", () => {
  let accounts: Accounts;
  before(async () => {
    accounts = await startAccounts({ env: { LOGIN_MAX_FAILURES: String(MAX), LOGIN_WINDOW_SECONDS: "900" } });
  });
  after(() => accounts?.close());

  const login = (fields: Record<string, unknown>) => accounts.dispatch("Login", fields);
  const codes = async (n: number, fields: Record<string, unknown>) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await login(fields)).status_code);
    return out;
  };
  const attemptRows = async (identifier: string) =>
    Number(
      (
        await accounts.services.db
          .selectFrom("login_attempts")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .where("identifier", "=", identifier)
          .executeTakeFirstOrThrow()
      ).n,
    );

  test(`after ${MAX} failures: 429 for wrong and right password alike; other accounts unaffected`, async () => {
    await register(accounts, { username: "victim", email: "victim@example.com" });
    await register(accounts, { username: "bystander" });
    assert.deepEqual(await codes(MAX, { username: "victim", password: "wrong-password" }), Array(MAX).fill(401));
    const throttled = await login({ username: "Victim", password: "wrong-password" });
    assert.deepEqual([throttled.status_code, throttled.message], [429, "Too many attempts, try again later"]);
    assert.equal((await login({ username: "VICTIM", password: "password123" })).status_code, 429, "the right password too");
    assert.equal((await login({ username: "bystander", password: "password123" })).status_code, 200);
    assert.ok(accounts.lines().some((l) => l.event === "login_throttled"));
  });

  test("unknown identifiers are throttled the same way, each on its own counter", async () => {
    assert.deepEqual(await codes(MAX + 1, { email: "nobody@example.com", password: "whatever1" }), [...Array(MAX).fill(404), 429]);
    assert.equal((await login({ email: "nobody-else@example.com", password: "whatever1" })).status_code, 404);
    assert.equal(await attemptRows("identifier:email:nobody@example.com"), MAX);
  });

  test("one counter per account: username, email and phone guesses count together", async () => {
    const token = await register(accounts, { username: "many-names", email: "many@example.com", phone_number: "+1 202-555-0147" });
    // Today's attack: each identifier had its own counter, so three times the guesses got through.
    const guesses = [{ username: "many-names" }, { email: "MANY@example.com" }, { phone_number: "+12025550147" }];
    const answers = [];
    for (let i = 0; i < MAX + 3; i++) answers.push((await login({ ...guesses[i % 3], password: `wrong-${i}` })).status_code);
    assert.deepEqual(answers, [...Array(MAX).fill(401), 429, 429, 429]);
    for (const identifier of guesses) assert.equal((await login({ ...identifier, password: "password123" })).status_code, 429, JSON.stringify(identifier));
    assert.equal(await attemptRows(`account:${idOf(token)}`), MAX);
  });

  test("successful logins do not count", async () => {
    const token = await register(accounts, { username: "regular" });
    assert.deepEqual(await codes(MAX + 2, { username: "regular", password: "password123" }), Array(MAX + 2).fill(200));
    assert.equal(await attemptRows(`account:${idOf(token)}`), 0);
  });

  test("a flood of distinct unknown identifiers leaves a bounded number of rows", async () => {
    const bounded = new LoginThrottle(accounts.services.db, { maxFailures: 10, windowSeconds: 900, maxRows: 40, sweepProbability: 1 });
    await bounded.reserve("account:999999");
    for (let i = 0; i < 120; i++) await bounded.reserve(`identifier:username:flood-${i}`);
    const { n } = await accounts.services.db
      .selectFrom("login_attempts")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("identifier", "not like", "account:%")
      .executeTakeFirstOrThrow();
    assert.ok(Number(n) <= 40, `${n} rows`);
    assert.equal(await attemptRows("identifier:username:flood-119"), 1, "the newest are kept");
    assert.equal(await attemptRows("account:999999"), 1, "an account's count survives the flood");
  });

  test("a burst of parallel guesses gets exactly the allowed number through", async () => {
    await register(accounts, { username: "burst" });
    const answers = await Promise.all(Array.from({ length: 12 }, () => login({ username: "burst", password: "wrong-password" })));
    const counted = answers.map((a) => a.status_code).sort();
    assert.deepEqual(counted, [...Array(MAX).fill(401), ...Array(12 - MAX).fill(429)]);
  });

  test("the window passes: the account can log in again, and old rows are deleted", async () => {
    const short = await startAccounts({ database: accounts.database, env: { LOGIN_MAX_FAILURES: "2", LOGIN_WINDOW_SECONDS: "1" } });
    try {
      const patient = idOf(await register(short, { username: "patient" }));
      const attempt = (password: string) => short.dispatch("Login", { username: "patient", password });
      assert.deepEqual([(await attempt("wrong-one")).status_code, (await attempt("wrong-two")).status_code], [401, 401]);
      assert.equal((await attempt("password123")).status_code, 429);
      await sleep(1100);
      assert.equal((await attempt("password123")).status_code, 200);
      assert.equal(await attemptRows(`account:${patient}`), 0, "expired rows of the account are gone");
      await short.services.db.insertInto("login_attempts").values({ identifier: "username:stale", attempted_at: new Date(Date.now() - 10_000) }).execute();
      assert.ok((await short.services.throttle.sweep()) >= 1);
      assert.equal(await attemptRows("username:stale"), 0);
    } finally {
      await short.close();
    }
  });

  test("two consumer processes share the count", async () => {
    const shared = await startAccounts({ database: accounts.database, env: { LOGIN_MAX_FAILURES: "6" } });
    try {
      await register(shared, { username: "shared", email: "shared@example.com" });
      await register(shared, { username: "unrelated" });
      const env = { LOGIN_MAX_FAILURES: "6", LOGIN_WINDOW_SECONDS: "900" };
      const job = JSON.stringify({
        url: accounts.database.url,
        env,
        requests: Array.from({ length: 5 }, () => ({ action: "Login", fields: { email: "SHARED@example.com", password: "wrong-password" } })),
      });
      const outputs = await Promise.all([0, 1].map(() => run(process.execPath, ["--import", "tsx", CLIENT, job], { timeout: 60_000 })));
      const results = outputs.map((o) => JSON.parse(o.stdout.trim()) as { pid: number; codes: number[] });
      assert.notEqual(results[0]!.pid, results[1]!.pid);
      const all = results.flatMap((r) => r.codes).sort();
      assert.deepEqual(all, [...Array(6).fill(401), ...Array(4).fill(429)], JSON.stringify(results));
      // This process sees the same count, for the right password too; other accounts are fine.
      assert.equal((await shared.dispatch("Login", { email: "shared@example.com", password: "password123" })).status_code, 429);
      assert.equal((await shared.dispatch("Login", { username: "unrelated", password: "password123" })).status_code, 200);
    } finally {
      await shared.close();
    }
  });
});
