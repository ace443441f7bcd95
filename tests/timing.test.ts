/**
 * Login's two failures — no such account (404) and wrong password (401) — must cost the same,
 * or the answer time tells an attacker which accounts exist. Measured through the real
 * dispatcher at a realistic bcrypt cost, interleaved, comparing minima and medians.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";

const SAMPLES = 30;
const COST = "8";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

describe("Login timing parity", () => {
  let accounts: Accounts;
  before(async () => {
    accounts = await startAccounts({ env: { BCRYPT_COST: COST, LOGIN_MAX_FAILURES: "100000", BCRYPT_THREADS: "1" } });
    await register(accounts, { username: "known", password: "the-right-password" });
  });
  after(() => accounts?.close());

  test(`unknown user and wrong password take the same time (bcrypt cost ${COST}, ${SAMPLES} samples each)`, async (t) => {
    const time = async (fields: Record<string, unknown>, expected: number) => {
      const started = performance.now();
      const answer = await accounts.dispatch("Login", fields);
      const elapsed = performance.now() - started;
      assert.equal(answer.status_code, expected);
      return elapsed;
    };
    const unknown: number[] = [];
    const wrong: number[] = [];
    // Warm up the pool, the connection and the JIT before measuring.
    for (let i = 0; i < 3; i++) {
      await time({ username: `nobody${i}`, password: "a-wrong-password" }, 404);
      await time({ username: "known", password: "a-wrong-password" }, 401);
    }
    for (let i = 0; i < SAMPLES; i++) {
      // Interleaved, so drift in machine load affects both series alike.
      unknown.push(await time({ username: `nobody-${i}`, password: "a-wrong-password" }, 404));
      wrong.push(await time({ username: "known", password: "a-wrong-password" }, 401));
    }
    const minRatio = Math.min(...unknown) / Math.min(...wrong);
    // Each pair was measured back to back: the median of their ratios is what load on a shared
    // machine moves least (a burst of other work lands on a pair, not on one series).
    const medianRatio = median(unknown.map((ms, i) => ms / wrong[i]!));
    const summary = {
      unknown_min_ms: +Math.min(...unknown).toFixed(2),
      wrong_min_ms: +Math.min(...wrong).toFixed(2),
      unknown_median_ms: +median(unknown).toFixed(2),
      wrong_median_ms: +median(wrong).toFixed(2),
      min_ratio: +minRatio.toFixed(3),
      median_pair_ratio: +medianRatio.toFixed(3),
    };
    t.diagnostic(`timing parity ${JSON.stringify(summary)}`);
    // Without the dummy comparison the unknown path skips bcrypt entirely and takes a small
    // fraction of the wrong-password time (ratio ≪ 0.5); the bound is generous for CI noise.
    assert.ok(minRatio > 0.5 && minRatio < 2, `minima ratio ${minRatio}`);
    assert.ok(medianRatio > 0.5 && medianRatio < 2, `median of the pairs' ratios ${medianRatio}`);
    // And bcrypt dominates both: the cost is real, not a malformed digest returning at once.
    assert.ok(Math.min(...unknown) > 5, `unknown-user path took ${Math.min(...unknown)} ms: no bcrypt?`);
  });
});
