/**
 * No oracle cheaper than Login. The attack: Register answered "already exists" in 0.9 ms
 * against a 201 after bcrypt (500 probes in 0.45 s), and Edit said which kind of identifier was
 * taken before checking current_password (500 probes in 2 s). Edit's side is tested in
 * tests/lifecycle-edit.test.ts ("taken identifiers"); Register's here.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";
import { median } from "../bench/load.ts";

describe("Register is no cheap oracle", () => {
  let accounts: Accounts;
  before(async () => {
    // A bcrypt cost where hashing clearly dominates a database round trip.
    accounts = await startAccounts({ env: { BCRYPT_COST: "9", LOGIN_MAX_FAILURES: "3" }, logLevel: "warn" });
  });
  after(() => accounts?.close());

  const timed = async (fields: Record<string, unknown>) => {
    const t0 = performance.now();
    const answer = await accounts.dispatch("Register", { name: "Probe", password: "password123", ...fields });
    return { status: answer.status_code, ms: performance.now() - t0 };
  };

  test("a 409 costs what a 201 costs", async (t) => {
    const taken = Array.from({ length: 10 }, (_, i) => `taken-${i}`);
    for (const username of taken) await register(accounts, { username });
    const created: number[] = [];
    const conflicts: number[] = [];
    // Interleaved, each taken name probed once (so the conflict throttle stays out of it).
    for (let i = 0; i < taken.length; i++) {
      const fresh = await timed({ username: `fresh-${i}` });
      assert.equal(fresh.status, 201);
      created.push(fresh.ms);
      const probe = await timed({ username: taken[i] });
      assert.equal(probe.status, 409);
      conflicts.push(probe.ms);
    }
    const ratio = median(conflicts) / median(created);
    t.diagnostic(`409 median ${median(conflicts).toFixed(1)} ms, 201 median ${median(created).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`);
    assert.ok(ratio > 0.6, `409 median ${median(conflicts).toFixed(1)} ms vs 201 median ${median(created).toFixed(1)} ms (ratio ${ratio.toFixed(2)})`);
  });

  test("repeated 409s for one identifier are throttled, other identifiers are not", async () => {
    await register(accounts, { username: "popular", email: "popular@example.com" });
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await timed({ username: "POPULAR", email: `other-${i}@example.com` })).status);
    assert.deepEqual(codes, [409, 409, 409, 429]);
    assert.equal((await timed({ email: "popular@example.com" })).status, 409, "the email has a count of its own");
    assert.equal((await timed({ username: "unpopular" })).status, 201);
    // Only the identifier that was taken counts: pairing a free name with a taken one, over and
    // over, must not lock the free name.
    for (let i = 0; i < 4; i++) assert.equal((await timed({ username: "still-free", email: "popular@example.com" })).status, i < 2 ? 409 : 429);
    assert.equal((await timed({ username: "still-free" })).status, 201, "the free name was never counted");
    // A registration that succeeds leaves no count behind for its identifiers.
    const counted = await accounts.services.db
      .selectFrom("login_attempts")
      .select("identifier")
      .where("identifier", "like", "conflict:%")
      .execute();
    // Only the identifiers answered 409 above: usernames by skeleton (taken-N reads "taken-o", "taken-l", … there).
    const conflicted = /^conflict:(username:(taken-.|popular)|email:popular@example\.com)$/;
    assert.deepEqual(counted.map((r) => r.identifier).filter((i) => !conflicted.test(i)), []);
    assert.ok(counted.some((r) => r.identifier === "conflict:email:popular@example.com"), "the conflicts themselves are counted");
  });
});
