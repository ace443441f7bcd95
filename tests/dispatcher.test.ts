import { test } from "node:test";
import assert from "node:assert/strict";
import type { Dispatcher, DispatcherOptions } from "../src/actions/dispatcher.ts";
import { inProcessDispatcher } from "./support/dispatcher.ts";

/** Over tests/fixtures/actions, with a 2 s deadline. */
const dispatcher = (overrides: Partial<DispatcherOptions> = {}) => inProcessDispatcher("tests/fixtures/actions", { actionTimeoutMs: 2_000, ...overrides });

let refs = 0;
const call = (d: Dispatcher, action: unknown, fields?: unknown) =>
  d.dispatch({ action, fields, response_ref: `ref-${++refs}` });

test("success: 200 with status success and the action's fields", async () => {
  const { d } = await dispatcher();
  assert.deepEqual(await call(d, "Echo", { text: "hi", times: 2 }), {
    status: "success",
    status_code: 200,
    message: "Echoed",
    fields: { text: "hi hi" },
  });
});

test("unknown action: 404 naming it", async () => {
  const { d } = await dispatcher();
  assert.deepEqual(await call(d, "Nope", {}), { status: "error", status_code: 404, message: "Unknown action: Nope", fields: null });
  assert.equal((await call(d, 42, {})).message, "Unknown action: 42");
  assert.equal((await call(d, "constructor", {})).status_code, 404);
  assert.equal((await call(d, "__proto__", {})).status_code, 404);
  // Any JSON as the name: echoed safely and briefly, even objects whose toString is not a function.
  assert.equal((await call(d, { toString: 1 }, {})).message, 'Unknown action: {"toString":1}');
  assert.equal((await call(d, "x".repeat(500), {})).message, `Unknown action: ${"x".repeat(100)}…`);
});

test("bad fields: 400 naming every bad field, with fields.errors", async () => {
  const { d } = await dispatcher();
  const answer = await call(d, "Echo", { text: "", times: 9, extra: 1 });
  assert.equal(answer.status, "error");
  assert.equal(answer.status_code, 400);
  assert.equal(
    answer.message,
    "Invalid fields: text: must be at least 1 character; times: must be at most 5; extra: is not a known field",
  );
  assert.deepEqual(answer.fields, {
    errors: [
      { field: "text", message: "must be at least 1 character" },
      { field: "times", message: "must be at most 5" },
      { field: "extra", message: "is not a known field" },
    ],
  });
  const missing = await call(d, "Echo", {});
  assert.deepEqual(missing.fields, { errors: [{ field: "text", message: "is required" }] });
  const wrongType = await call(d, "Echo", { text: 5 });
  assert.equal(wrongType.message, "Invalid fields: text: must be a string, not a number");
});

test("fields that are not an object: 400; absent fields count as {}", async () => {
  const { d } = await dispatcher();
  for (const fields of [[], "text", 5, true]) {
    const answer = await call(d, "Echo", fields);
    assert.equal(answer.status_code, 400);
    assert.equal(answer.message, "Invalid fields: fields: must be a JSON object");
  }
  assert.equal((await call(d, "Hang2", undefined)).status_code, 404);
  assert.equal((await call(d, "Derived", null)).status_code, 200);
  assert.equal((await call(d, "Derived", undefined)).status_code, 200);
});

test("null means absent: optional fields take their defaults, required ones are missing", async () => {
  const { d } = await dispatcher();
  assert.deepEqual((await call(d, "Echo", { text: "a", times: null, shout: null })).fields, { text: "a" });
  assert.equal((await call(d, "Echo", { text: null })).message, "Invalid fields: text: is required");
});

test("NUL characters in any string field: 400 naming the field", async () => {
  const { d } = await dispatcher();
  assert.deepEqual((await call(d, "Echo", { text: "a\u0000b" })).fields, { errors: [{ field: "text", message: "must not contain NUL characters" }] });
  assert.equal((await call(d, "Echo", { text: "a\ud800b" })).status_code, 200);
});

test("prototype keys are ordinary unknown fields and pollute nothing", async () => {
  const { d } = await dispatcher();
  const fields = JSON.parse('{"text":"a","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}');
  const answer = await call(d, "Echo", fields);
  assert.equal(answer.status_code, 400);
  assert.match(answer.message!, /__proto__: is not a known field/);
  assert.match(answer.message!, /constructor: is not a known field/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("an action that throws: 500 without internals; the log has the stack and the ref", async () => {
  const { d, lines } = await dispatcher();
  const answer = await d.dispatch({ action: "Boom", fields: {}, response_ref: "ref-boom" });
  assert.deepEqual(answer, { status: "error", status_code: 500, message: "Internal server error", fields: null });
  const line = lines().find((l) => l.msg === "action failed")!;
  assert.equal(line.response_ref, "ref-boom");
  assert.match(String((line.err as { stack: string }).stack), /secret internals/);
  const bad = await call(d, "BadReturn", {});
  assert.equal(bad.status_code, 500);
});

test("domain errors keep their status; a dependency that is down is 503 without internals", async () => {
  const { d } = await dispatcher();
  assert.deepEqual(await call(d, "Teapot", {}), { status: "error", status_code: 418, message: "I'm a teapot", fields: { brewing: false } });
  const down = await call(d, "DatabaseDown", {});
  assert.deepEqual(down, { status: "error", status_code: 503, message: "Service unavailable", fields: null });
});

test("past the deadline: 504, the signal is aborted, and the slot is freed even if the action never returns", async () => {
  const { d } = await dispatcher({ actionTimeoutMs: 100, maxConcurrency: 1, queueLimit: 4 });
  const hung = call(d, "Hang", {});
  const slow = call(d, "Slow", { ms: 10_000 });
  assert.deepEqual(await hung, { status: "error", status_code: 504, message: "Action timed out", fields: null });
  assert.equal((await slow).status_code, 504);
  assert.equal(d.inFlight, 0);
  assert.equal((await call(d, "Echo", { text: "still serving" })).status_code, 200);
});

test("requests run concurrently: a slow action does not delay a fast one", async () => {
  const { d } = await dispatcher();
  const order: string[] = [];
  const slow = call(d, "Slow", { ms: 300 }).then(() => order.push("slow"));
  const fast = call(d, "Echo", { text: "x" }).then(() => order.push("fast"));
  await Promise.all([slow, fast]);
  assert.deepEqual(order, ["fast", "slow"]);
});

test("above MAX_CONCURRENCY requests queue; a full queue answers 503", async () => {
  const { d } = await dispatcher({ maxConcurrency: 2, queueLimit: 3 });
  const pending = Array.from({ length: 5 }, () => call(d, "Slow", { ms: 100 }));
  assert.equal(d.inFlight, 2);
  assert.equal(d.queued, 3);
  const refused = await call(d, "Slow", { ms: 1 });
  assert.deepEqual(refused, { status: "error", status_code: 503, message: "Service unavailable: too many requests", fields: null });
  const answers = await Promise.all(pending);
  assert.deepEqual(answers.map((a) => a.status_code), [200, 200, 200, 200, 200]);
  assert.equal(d.inFlight, 0);
  assert.equal(d.queued, 0);
});

test("time spent queued counts toward the deadline", async () => {
  const { d } = await dispatcher({ maxConcurrency: 1, queueLimit: 5, actionTimeoutMs: 150 });
  const first = call(d, "Slow", { ms: 120 });
  const second = call(d, "Slow", { ms: 100 });
  assert.equal((await first).status_code, 200);
  assert.equal((await second).status_code, 504);
});

test("drain: requests that still arrive are served (a 503 would be a caller's failure); it resolves when all are answered", async () => {
  const { d } = await dispatcher({ maxConcurrency: 1, queueLimit: 5 });
  const running = call(d, "Slow", { ms: 100 });
  const queued = call(d, "Echo", { text: "queued" });
  let drained = false;
  const draining = d.drain().then(() => (drained = true));
  assert.equal(d.isDraining, true);
  const late = call(d, "Echo", { text: "late" });
  assert.equal((await running).status_code, 200);
  assert.equal((await queued).status_code, 200);
  assert.equal((await late).status_code, 200);
  await draining;
  assert.equal(drained, true);
});

test("abortAll (a hard stop): queued requests get 503 shutting down at once, running ones are aborted", async () => {
  const { d } = await dispatcher({ maxConcurrency: 1, queueLimit: 5 });
  const running = call(d, "Slow", { ms: 10_000 });
  const queued = call(d, "Echo", { text: "queued" });
  d.abortAll();
  assert.deepEqual(await queued, { status: "error", status_code: 503, message: "Service unavailable: shutting down", fields: null });
  assert.equal((await running).status_code, 504);
});

test("observer hears every answer with its status and duration", async () => {
  const seen: Array<[unknown, number]> = [];
  const { d } = await dispatcher({ observer: { answered: (action, code) => seen.push([action, code]) } });
  await call(d, "Echo", { text: "a" });
  await call(d, "Nope", {});
  assert.deepEqual(seen, [["Echo", 200], ["Nope", 404]]);
});
