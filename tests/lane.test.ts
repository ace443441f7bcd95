/**
 * The framework's Lane (src/actions/lane.ts): heavy work admitted by the wait it can expect, in
 * order, bounded; and a request waiting in it holds no dispatcher slot (ctx.withoutSlot). The
 * jobs here are promises the test settles itself, so nothing waits on a clock.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { Lane } from "../src/actions/lane.ts";
import { OverloadedError } from "../src/actions/responses.ts";
import { Action, ok, type Context } from "../src/index.ts";
import { dispatcherFor } from "./support/dispatcher.ts";

/** A job the test finishes when it wants. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const lane = (options: Partial<ConstructorParameters<typeof Lane>[0]> = {}) =>
  new Lane({ name: "test", workers: 2, maxWaitMs: 200, maxQueued: 1000, estimateMs: 50, ...options });

test("admits while the expected wait is within maxWaitMs, refuses at once beyond it", () => {
  const l = lane();
  // 2 workers at 50 ms a job: the k-th job (k ≥ 2) starts after (k - 1) * 25 ms. Up to 200 ms: 10 jobs.
  const tickets = Array.from({ length: 10 }, () => l.admit());
  assert.equal(l.expectedWaitMs(), 225);
  assert.throws(() => l.admit(), OverloadedError);
  assert.equal(l.stats().refused, 1);
  tickets[0]!.release();
  assert.doesNotThrow(() => l.admit(), "a place given back is a place again");
});

test("refuses a job that could not finish before its request's deadline, with the margin", () => {
  const l = lane({ maxWaitMs: 10_000, marginMs: 100 });
  assert.throws(() => l.admit({ deadline: Date.now() + 120 }), OverloadedError, "50 ms of work + 100 ms margin > 120 ms left");
  assert.doesNotThrow(() => l.admit({ deadline: Date.now() + 1000 }));
  // Behind 20 admitted jobs (about 475 ms of wait), a second is not enough.
  for (let i = 0; i < 20; i++) l.admit();
  assert.throws(() => l.admit({ deadline: Date.now() + 600 }), OverloadedError);
  assert.doesNotThrow(() => l.admit({ deadline: Date.now() + 2000 }));
});

test("maxQueued caps the jobs waiting, whatever their expected wait", () => {
  const l = lane({ maxWaitMs: 1e9, maxQueued: 3 });
  for (let i = 0; i < 3; i++) l.admit();
  assert.throws(() => l.admit(), OverloadedError);
});

test("runs at most `workers` jobs at once, the rest in order of arrival", async () => {
  const l = lane();
  const gates = Array.from({ length: 5 }, deferred);
  const started: number[] = [];
  const runs = gates.map((gate, i) =>
    l.run(async () => {
      started.push(i);
      await gate.promise;
      return i;
    }),
  );
  await Promise.resolve();
  assert.deepEqual(started, [0, 1]);
  assert.equal(l.stats().running, 2);
  assert.equal(l.stats().queued, 3);
  gates[1]!.resolve();
  assert.equal(await runs[1], 1);
  await Promise.resolve();
  assert.deepEqual(started, [0, 1, 2]);
  for (const gate of gates) gate.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4]);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.deepEqual({ running: l.stats().running, queued: l.stats().queued }, { running: 0, queued: 0 });
});

test("a waiting job whose request is aborted leaves its turn; the next one gets the worker", async () => {
  const l = lane({ workers: 1 });
  const first = deferred();
  const running = l.run(() => first.promise);
  const controller = new AbortController();
  const abandoned = l.run(async () => assert.fail("an aborted job must not run"), { signal: controller.signal });
  const next = l.run(async () => "ran");
  controller.abort(new Error("deadline passed"));
  await assert.rejects(abandoned, /deadline passed/);
  first.resolve();
  await running;
  assert.equal(await next, "ran");
});

test("the figure of one job follows what jobs take", async () => {
  const l = lane({ estimateMs: 1000 });
  for (let i = 0; i < 30; i++) await l.run(async () => undefined);
  assert.ok(l.stats().estimateMs < 10, `estimate ${l.stats().estimateMs} ms after 30 instant jobs`);
});

class Parked extends Action.with({ schema: z.object({}) }) {
  static gate = deferred();
  static lane = lane({ workers: 1 });
  async run(_fields: object, ctx: Context) {
    await Parked.lane.run(() => Parked.gate.promise, ctx);
    return ok("parked and back");
  }
}
class Cheap extends Action.with({ schema: z.object({}) }) {
  run() {
    return ok("cheap");
  }
}

test("a request waiting in a lane holds no dispatcher slot: cheap requests run meanwhile, and drain waits for it", async () => {
  const dispatcher = dispatcherFor([Parked, Cheap], { maxConcurrency: 2, queueLimit: 10 });
  const parked = Array.from({ length: 4 }, () => dispatcher.dispatch({ action: "Parked", fields: {}, response_ref: "p" }));
  await Promise.resolve();
  assert.equal(dispatcher.inFlight, 4, "all four started and are in flight, with MAX_CONCURRENCY 2");
  assert.equal(dispatcher.queued, 0);
  const cheap = await Promise.all(Array.from({ length: 5 }, () => dispatcher.dispatch({ action: "Cheap", fields: {}, response_ref: "c" })));
  assert.deepEqual(cheap.map((a) => a.status_code), [200, 200, 200, 200, 200]);
  let drained = false;
  const drain = dispatcher.drain().then(() => (drained = true));
  await Promise.resolve();
  assert.equal(drained, false, "parked requests are still in flight");
  Parked.gate.resolve();
  assert.deepEqual((await Promise.all(parked)).map((a) => a.message), Array(4).fill("parked and back"));
  await drain;
  assert.equal(dispatcher.inFlight, 0);
});
