/**
 * The password pool: bcrypt in worker threads (the event loop stays free), NFC, the 72-byte
 * ceiling, the dummy comparison, every digest prefix, rehash detection.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import bcrypt from "bcryptjs";
import { Passwords, PasswordTooLongError, passwordBytes } from "../account/passwords.ts";

describe("Passwords", () => {
  let passwords: Passwords;
  before(async () => {
    passwords = await Passwords.start({ cost: 4, threads: 2 });
  });
  after(() => passwords?.close());

  test("hash and verify, NFC-normalized on both sides", async () => {
    const digest = await passwords.hash("cafe\u0301 au lait");
    assert.match(digest, /^\$2b\$04\$/);
    assert.equal(await passwords.verify("caf\u00e9 au lait", digest), true);
    assert.equal(await passwords.verify("cafe au lait", digest), false);
  });

  test("more than 72 bytes after NFC is refused, never truncated", async () => {
    assert.equal(passwordBytes("é".repeat(36)), 72);
    assert.equal(passwordBytes("e\u0301".repeat(36)), 72, "measured after NFC");
    const digest = await passwords.hash("a".repeat(72));
    await assert.rejects(passwords.verify("a".repeat(72) + "b", digest), PasswordTooLongError);
    await assert.rejects(passwords.hash("🔑".repeat(19)), PasswordTooLongError);
    // What bcrypt alone would do, and what the check prevents:
    assert.equal(bcrypt.compareSync("a".repeat(72) + "b", digest), true);
  });

  test("verifies $2a$, $2b$ and $2y$ digests", async () => {
    const body = bcrypt.hashSync("password123", 4).slice(4);
    for (const prefix of ["$2a$", "$2b$", "$2y$"]) assert.equal(await passwords.verify("password123", prefix + body), true, prefix);
    assert.equal(await passwords.verify("password123", "not a digest"), false);
  });

  test("the no-account comparison is a real one at the current cost", async () => {
    assert.equal(await passwords.verifyWithoutAccount("anything at all"), false);
    const slow = await Passwords.start({ cost: 10, threads: 1 });
    try {
      // Its digest is one of the current cost: what makes it as slow as a real comparison.
      assert.equal(slow.dummyCost, 10);
      // And the time says so too. Like with like on a machine that may be busy: the same warm
      // thread, the two kinds interleaved, the median of each.
      const real = await slow.hash("x");
      const timed = async (work: () => Promise<unknown>) => {
        const started = performance.now();
        await work();
        return performance.now() - started;
      };
      const dummy: number[] = [];
      const account: number[] = [];
      for (let i = 0; i < 5; i++) {
        dummy.push(await timed(() => slow.verifyWithoutAccount("anything at all")));
        account.push(await timed(() => slow.verify("y", real)));
      }
      const median = (ms: number[]) => ms.sort((a, b) => a - b)[2]!;
      assert.ok(median(dummy) > median(account) / 2 && median(dummy) < median(account) * 2, `dummy ${dummy} ms vs real ${account} ms`);
    } finally {
      await slow.close();
    }
  });

  test("needsRehash: lower cost yes; same or higher no; garbage no", async () => {
    assert.equal(passwords.needsRehash(bcrypt.hashSync("x", 4)), false);
    assert.equal(passwords.needsRehash("$2b$12$" + "a".repeat(53)), false);
    assert.equal(passwords.needsRehash("garbage"), false);
    const stronger = await Passwords.start({ cost: 5, threads: 1 });
    try {
      assert.equal(stronger.needsRehash(bcrypt.hashSync("x", 4).replace("$2b$", "$2y$")), true);
    } finally {
      await stronger.close();
    }
  });

  test("hashing runs off the event loop: timers keep firing while the workers hash", async () => {
    const heavy = await Passwords.start({ cost: 12, threads: 2 });
    try {
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      const started = performance.now();
      await Promise.all(Array.from({ length: 4 }, (_, i) => heavy.hash(`password-${i}`)));
      const elapsed = performance.now() - started;
      delay.disable();
      const maxMs = delay.max / 1e6;
      // Four cost-12 hashes take well over 400 ms; on the main thread each would block it ~250 ms.
      assert.ok(elapsed > 300, `hashing took only ${elapsed} ms`);
      assert.ok(maxMs < 100, `the event loop stalled for ${maxMs} ms`);
      assert.equal(heavy.stats().threads, 2);
    } finally {
      await heavy.close();
    }
  });

  test("threads start with the work and end when idle: a replica serving no logins holds none", async () => {
    const lazy = await Passwords.start({ cost: 4, threads: 2, idleThreadMs: 100 });
    try {
      const settled = async (threads: number) => {
        const deadline = Date.now() + 5_000;
        while (lazy.stats().threads !== threads) {
          assert.ok(Date.now() < deadline, `${lazy.stats().threads} threads, expected ${threads}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      await settled(0);
      const digest = await lazy.hash("password123");
      assert.equal(await lazy.verify("password123", digest), true, "a new thread takes the job");
      await settled(0);
    } finally {
      await lazy.close();
    }
  });
});
