import { test } from "node:test";
import assert from "node:assert/strict";
import { Deadlines, TICK_MS } from "../src/actions/deadlines.ts";

/** Resolves with the time a deadline fired. */
function firing(deadlines: Deadlines, at: number): { fired: Promise<number>; cancel(): void } {
  let fire!: (at: number) => void;
  const fired = new Promise<number>((resolve) => (fire = resolve));
  const deadline = deadlines.add(at, () => fire(Date.now()));
  return { fired, cancel: () => deadline.cancel() };
}

test("a deadline beyond the tick fires at its time, never early", async () => {
  const deadlines = new Deadlines();
  for (const ms of [TICK_MS * 3, TICK_MS + 1]) {
    const at = Date.now() + ms;
    const firedAt = await firing(deadlines, at).fired;
    assert.ok(firedAt >= at, `fired ${at - firedAt} ms early`);
    // Late only by what the machine's load makes any timer late (the test files share its cores).
    assert.ok(firedAt - at < 500, `fired ${firedAt - at} ms late`);
  }
});

test("a deadline within the tick, or past already, fires at its time", async () => {
  const deadlines = new Deadlines();
  const soon = Date.now() + 5;
  assert.ok((await firing(deadlines, soon).fired) >= soon);
  const past = Date.now() - 100;
  assert.ok((await firing(deadlines, past).fired) >= past);
});

test("cancelled deadlines never fire, whether cancelled before or after the tick armed them", async () => {
  const deadlines = new Deadlines();
  const now = Date.now();
  const cancelledEarly = Array.from({ length: 50 }, (_, i) => firing(deadlines, now + TICK_MS * 2 + i));
  const kept = Array.from({ length: 50 }, (_, i) => firing(deadlines, now + TICK_MS * 2 + i));
  const cancelledLate = firing(deadlines, now + TICK_MS * 6);
  for (const d of cancelledEarly) d.cancel();
  let early = 0;
  for (const d of cancelledEarly) void d.fired.then(() => early++);
  let late = 0;
  void cancelledLate.fired.then(() => late++);
  // The kept ones fire (the tick armed them); then the late one is cancelled with its timer armed.
  await Promise.all(kept.map((d) => d.fired));
  cancelledLate.cancel();
  // A sentinel after both: by the time it fires, neither cancelled kind has.
  await firing(deadlines, now + TICK_MS * 8).fired;
  assert.equal(early, 0);
  assert.equal(late, 0);
});
