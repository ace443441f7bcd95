/**
 * Calls to another service through the plugboard's HTTP API (src/calls/caller.ts), against a
 * dev plugboard hosting the callee as a second service, in both of its HTTP modes: the callee's
 * fields come back; no consumer → retried, then a clear failure within the deadline; a slow
 * callee → cut at the caller's deadline; 400, 408 and 502 never retried; a bad API token refused;
 * the breaker opens, answers at once, and recovers through a half-open probe; the API token and
 * the fields never in a log.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DevPlugboard, type HttpMode } from "../src/devboard/server.ts";
import { configuredCaller, ServiceCaller, type BreakerState, type CallObserver } from "../src/calls/caller.ts";
import { startConsumer, until, type TestConsumer } from "./support/consumer.ts";
import { captureLogs } from "./support/logs.ts";
import { joinedClient } from "./support/raw-client.ts";
import type { MessageFormat } from "../src/actions/responses.ts";

const boards: DevPlugboard[] = [];
const consumers: TestConsumer[] = [];
const callers: ServiceCaller[] = [];
after(async () => {
  for (const c of callers) c.close();
  await Promise.all(consumers.map((c) => c.stop()));
  await Promise.all(boards.map((b) => b.stop()));
});

interface Recorded extends CallObserver {
  outcomes: string[];
  retries: number;
  states: BreakerState[];
}

function recorder(): Recorded {
  const r: Recorded = {
    outcomes: [],
    retries: 0,
    states: [],
    called: (_target, outcome) => void r.outcomes.push(outcome),
    retried: () => void r.retries++,
    breaker: (_target, state) => void r.states.push(state),
  };
  return r;
}

/** A board whose second service, "callee", runs tests/fixtures/actions (joined unless `join` is false). */
async function setup(options: { httpMode?: HttpMode; messageFormat?: MessageFormat; join?: boolean; requestTimeoutMs?: number; breaker?: ConstructorParameters<typeof ServiceCaller>[0]["breaker"]; timeoutMs?: number } = {}) {
  const board = await DevPlugboard.start({ httpMode: options.httpMode ?? "full", ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}) });
  boards.push(board);
  const callee = board.addService({ name: "callee" });
  const join = async () => {
    const messageFormat = options.messageFormat ?? "text";
    const consumer = await startConsumer({ url: board.socketUrl, token: callee.token, client: { messageFormat }, dispatcher: { messageFormat } });
    consumers.push(consumer);
    await until(() => board.services()[1]!.joinedConsumers === 1, 5_000, "the callee to join");
    return consumer;
  };
  if (options.join !== false) await join();
  const logs = captureLogs("debug");
  const observed = recorder();
  const caller = new ServiceCaller({
    httpUrl: board.url,
    apiToken: board.accountToken,
    log: logs.log,
    timeoutMs: options.timeoutMs ?? 5_000,
    retry: { minTimeoutMs: 20, maxTimeoutMs: 100 },
    observer: observed,
    ...(options.breaker ? { breaker: options.breaker } : {}),
  });
  callers.push(caller);
  return { board, callee, caller, logs, observed, join };
}

for (const [httpMode, messageFormat] of [["full", "text"], ["vera", "answer"]] as const) {
  describe(`the dev plugboard in ${httpMode} mode (callee MESSAGE_FORMAT=${messageFormat})`, () => {
    test("a call returns the callee's fields; an error answer keeps its status code and is not retried", async () => {
      const { callee, caller, board } = await setup({ httpMode, messageFormat });
      const echo = await caller.call({ serviceId: callee.id, name: "callee" }, "Echo", { text: "hello" });
      assert.equal(echo.ok, true, JSON.stringify(echo));
      assert.equal(echo.statusCode, 200);
      assert.deepEqual(echo.fields, { text: "hello" });
      assert.equal(echo.attempts, 1);

      board.clearFrames();
      const teapot = await caller.call(callee.id, "Teapot", {});
      assert.deepEqual({ ...teapot }, { ok: false, reason: "answered", statusCode: 418, message: "I'm a teapot", fields: { brewing: false }, attempts: 1 });
      const invalid = await caller.call(callee.id, "Echo", { text: 42 });
      assert.equal(invalid.ok, false);
      assert.equal(invalid.statusCode, 400);
      assert.equal(invalid.attempts, 1, "a 400 is never sent again");
      const pushed = board.frames.filter((f) => f.direction === "out" && f.text.includes('"request"'));
      assert.equal(pushed.length, 2, "each reached the callee once");
    });
  });
}

test("the Vera Plugboard's text answers: success with the message, no fields; an error answer is 400", async () => {
  const { callee, caller } = await setup({ httpMode: "vera", messageFormat: "text" });
  const echo = await caller.call(callee.id, "Echo", { text: "hi" });
  assert.deepEqual({ ok: echo.ok, statusCode: echo.statusCode, fields: echo.fields }, { ok: true, statusCode: 200, fields: null });
  const teapot = await caller.call(callee.id, "Teapot", {});
  assert.deepEqual({ ok: teapot.ok, reason: !teapot.ok && teapot.reason, statusCode: teapot.statusCode, message: teapot.message }, { ok: false, reason: "answered", statusCode: 400, message: "I'm a teapot" });
});

test("no consumer joined (422): retried with backoff, then a clear failure within the deadline; a consumer that joins meanwhile gets the call", async () => {
  const { board, callee, caller, observed, join, logs } = await setup({ join: false });
  const started = Date.now();
  const down = await caller.call(callee.id, "Echo", { text: "x" }, { timeoutMs: 2_000 });
  assert.equal(down.ok, false);
  assert.equal(!down.ok && down.reason, "no_consumer");
  assert.equal(down.attempts, 5, "the first try and 4 retries");
  assert.equal(observed.retries, 4);
  assert.ok(Date.now() - started < 2_000, "within the deadline");

  // Retries that outlast the callee's absence succeed (a caller of its own: the first one's breaker is open now).
  const patient = new ServiceCaller({ httpUrl: board.url, apiToken: board.accountToken, log: logs.log, timeoutMs: 5_000, retry: { retries: 100, minTimeoutMs: 20, maxTimeoutMs: 50 }, breaker: { volumeThreshold: 1_000 } });
  callers.push(patient);
  const pending = patient.call(callee.id, "Echo", { text: "late" });
  await join();
  const late = await pending;
  assert.equal(late.ok, true, JSON.stringify(late));
});

test("a deadline shorter than the retries: the call ends at it, with reason deadline or the last failure", async () => {
  const { board, callee, logs } = await setup({ join: false });
  // Without the deadline these retries would take seconds.
  const caller = new ServiceCaller({ httpUrl: board.url, apiToken: board.accountToken, log: logs.log, timeoutMs: 10_000, retry: { retries: 20, minTimeoutMs: 200, maxTimeoutMs: 400 }, breaker: { volumeThreshold: 1_000 } });
  callers.push(caller);
  const started = Date.now();
  const result = await caller.call(callee.id, "Echo", { text: "x" }, { deadlineAt: Date.now() + 150 });
  const elapsed = Date.now() - started;
  assert.equal(result.ok, false);
  assert.ok(!result.ok && ["deadline", "no_consumer"].includes(result.reason), JSON.stringify(result));
  assert.ok(elapsed < 400, `ended after ${elapsed} ms`);
});

test("a slow callee: the call is aborted at the caller's deadline, less the margin", async () => {
  const { callee, caller } = await setup();
  const started = Date.now();
  const slow = await caller.call(callee.id, "Slow", { ms: 5_000 }, { deadlineAt: Date.now() + 600 });
  const elapsed = Date.now() - started;
  assert.deepEqual({ ok: slow.ok, reason: !slow.ok && slow.reason, statusCode: slow.statusCode, attempts: slow.attempts }, { ok: false, reason: "deadline", statusCode: 504, attempts: 1 });
  assert.ok(elapsed >= 500 && elapsed < 700, `aborted after ${elapsed} ms`);

  // The request's own signal ends it too (the service stopping hard).
  const stop = new AbortController();
  const call = caller.call(callee.id, "Slow", { ms: 5_000 }, { signal: stop.signal });
  setTimeout(() => stop.abort(new Error("stopping")), 50);
  const stopped = await call;
  assert.equal(!stopped.ok && stopped.reason, "deadline");
});

test("the plugboard's 408 (the callee may have run) is never retried", async () => {
  const { callee, caller } = await setup({ requestTimeoutMs: 200 });
  const hung = await caller.call(callee.id, "Hang", {});
  assert.deepEqual({ reason: !hung.ok && hung.reason, statusCode: hung.statusCode, attempts: hung.attempts }, { reason: "timeout", statusCode: 408, attempts: 1 });
});

test("refused: a bad API token (401) or a service the board does not host (403), never retried", async () => {
  const { board, callee, logs } = await setup();
  const wrong = new ServiceCaller({ httpUrl: board.url, apiToken: "not-the-token-secret-value", log: logs.log, timeoutMs: 2_000 });
  callers.push(wrong);
  const bad = await wrong.call(callee.id, "Echo", { text: "x" });
  assert.deepEqual({ reason: !bad.ok && bad.reason, statusCode: bad.statusCode, attempts: bad.attempts }, { reason: "refused", statusCode: 401, attempts: 1 });
  const right = new ServiceCaller({ httpUrl: board.url, apiToken: board.accountToken, log: logs.log, timeoutMs: 2_000 });
  callers.push(right);
  const elsewhere = await right.call("00000000-0000-4000-8000-000000000000", "Echo", { text: "x" });
  assert.deepEqual({ reason: !elsewhere.ok && elsewhere.reason, statusCode: elsewhere.statusCode }, { reason: "refused", statusCode: 403 });
  assert.ok(!logs.text().includes("not-the-token-secret-value") && !logs.text().includes(board.accountToken), "no API token in the logs");
});

test("the plugboard unreachable: connection errors retried, then unreachable", async () => {
  const { logs } = await setup({ join: false });
  const gone = await DevPlugboard.start();
  const url = gone.url;
  await gone.stop();
  const caller = new ServiceCaller({ httpUrl: url, apiToken: "t", log: logs.log, timeoutMs: 2_000, retry: { minTimeoutMs: 10, maxTimeoutMs: 20 } });
  callers.push(caller);
  const result = await caller.call("id", "Echo", {});
  assert.deepEqual({ reason: !result.ok && result.reason, statusCode: result.statusCode, attempts: result.attempts }, { reason: "unreachable", statusCode: 503, attempts: 5 });
});

test("the circuit breaker: opens after repeated failures and answers at once, probes half-open, closes when the callee is back", async () => {
  const { callee, caller, observed, join, logs } = await setup({ join: false, breaker: { volumeThreshold: 3, resetTimeoutMs: 300 } });
  const noRetry = { timeoutMs: 60 };
  for (let i = 0; i < 3; i++) await caller.call(callee.id, "Echo", { text: "secret-field-value" }, noRetry);
  await until(() => caller.breakerStates().get(callee.id) === "open");
  const started = performance.now();
  const fast = await caller.call(callee.id, "Echo", { text: "x" });
  assert.deepEqual({ reason: !fast.ok && fast.reason, statusCode: fast.statusCode }, { reason: "circuit_open", statusCode: 503 });
  assert.ok(performance.now() - started < 50, "answered at once, nothing sent");

  await join();
  await until(() => caller.breakerStates().get(callee.id) === "half_open", 2_000, "half open after the reset timeout");
  const probe = await caller.call(callee.id, "Echo", { text: "back" });
  assert.equal(probe.ok, true);
  assert.equal(caller.breakerStates().get(callee.id), "closed");
  assert.deepEqual(observed.states, ["closed", "open", "half_open", "closed"]);
  assert.ok(observed.outcomes.includes("circuit_open"));
  assert.ok(!logs.text().includes("secret-field-value"), "fields never logged");
  assert.ok(logs.lines().some((l) => l.msg === "service call" && l.target === callee.id && l.outcome === "ok"));
});

test("a 502 (the callee answered without status or message: it ran) is never retried", async () => {
  const board = await DevPlugboard.start({ httpMode: "vera" });
  boards.push(board);
  const callee = board.addService({ name: "old-style" });
  const { client } = await joinedClient(board, { token: callee.token });
  let runs = 0;
  client.serve(() => {
    runs++;
    return { result: "an answer of the Python era" }; // no status, no message
  });
  const { log } = captureLogs("silent");
  const caller = new ServiceCaller({ httpUrl: board.url, apiToken: board.accountToken, log, timeoutMs: 2_000 });
  callers.push(caller);
  const answer = await caller.call(callee.id, "Login", { password: "x" });
  assert.deepEqual({ reason: !answer.ok && answer.reason, statusCode: answer.statusCode, attempts: answer.attempts }, { reason: "bad_gateway", statusCode: 502, attempts: 1 });
  assert.equal(runs, 1, "the callee ran once");
  await client.close();
});

test("PLUGBOARD_HTTP_URL with a path: calls go to POST on that path", async () => {
  const { board, callee } = await setup();
  const { log } = captureLogs("silent");
  // A path the board does not serve: the caller must keep it (a proxy would route it), so the board answers 404.
  const prefixed = new ServiceCaller({ httpUrl: `${board.url}/plugboard`, apiToken: board.accountToken, log, timeoutMs: 1_000 });
  callers.push(prefixed);
  const answer = await prefixed.call(callee.id, "Echo", { text: "x" });
  assert.match(answer.message, /HTTP 404/);
  const plain = new ServiceCaller({ httpUrl: `${board.url}/`, apiToken: board.accountToken, log, timeoutMs: 1_000 });
  callers.push(plain);
  assert.equal((await plain.call(callee.id, "Echo", { text: "x" })).ok, true);
});

test("the caller from the configuration: the dev plugboard's token never goes to a URL given from outside", async () => {
  const { log } = captureLogs("silent");
  const fallback = { httpUrl: "http://127.0.0.1:4000", apiToken: "the-dev-boards-own-token" };
  assert.equal(configuredCaller({ httpUrl: "https://plugboard.example", apiToken: undefined, timeoutMs: 1000 }, log, { fallback }), undefined);
  assert.equal(configuredCaller({ httpUrl: undefined, apiToken: undefined, timeoutMs: 1000 }, log), undefined);
  for (const caller of [
    configuredCaller({ httpUrl: undefined, apiToken: "given", timeoutMs: 1000 }, log, { fallback }),
    configuredCaller({ httpUrl: undefined, apiToken: undefined, timeoutMs: 1000 }, log, { fallback }),
    configuredCaller({ httpUrl: "https://plugboard.example", apiToken: "given", timeoutMs: 1000 }, log),
  ]) {
    assert.ok(caller instanceof ServiceCaller);
    caller.close();
  }
});
