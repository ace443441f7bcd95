/**
 * The service as a process (`npm start`'s command), configured only through the environment,
 * against a dev plugboard: drain on SIGTERM, hard stops, service_deleted, secrets in the log.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DevPlugboard } from "../src/devboard/server.ts";
import { compiledFixtures, serviceDatabaseEnv, startService, type ServiceProcess } from "./support/process.ts";
import { until } from "./support/consumer.ts";
import { EXIT_CODE } from "../src/ops/exit-codes.ts";

const boards: DevPlugboard[] = [];
const processes: ServiceProcess[] = [];
after(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
  await Promise.all(boards.map((b) => b.stop()));
});

const SECRET = "test-secret-that-is-at-least-32-bytes-long";

/** The compiled service behind a dev plugboard of its own, on a fresh database, not yet joined. */
async function starting(env: Record<string, string> = {}) {
  const board = await DevPlugboard.start({ requestTimeoutMs: 15_000 });
  boards.push(board);
  const service = startService({
    WEBSOCKET_URL: board.socketUrl,
    TOKEN: board.token,
    JWT_SECRET: SECRET,
    ACTIONS_DIR: compiledFixtures("actions"),
    DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-process-")),
    ...(await serviceDatabaseEnv()),
    ...env,
  });
  processes.push(service);
  return { board, service };
}

async function serve(env: Record<string, string> = {}) {
  const { board, service } = await starting(env);
  await service.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
  return { board, service };
}

const requestsPushed = (board: DevPlugboard) => board.frames.filter((f) => f.direction === "out" && f.text.includes('"request"')).length;

test("SIGTERM drains alone: leave, answer what was routed here, deliver it in one burst (join, answers, leave), exit 0", async () => {
  const { board, service } = await serve({ SHUTDOWN_TIMEOUT_MS: "10000" });
  const slow = Array.from({ length: 5 }, () => board.request("Slow", { ms: 800 }));
  await until(() => requestsPushed(board) === 5);
  await new Promise((resolve) => setTimeout(resolve, 100)); // let them start
  service.kill("SIGTERM");
  await service.waitForLine((l) => /draining/.test(String(l.msg)));
  await board.waitFor(() => board.consumers().every((c) => !c.joined));
  // Left: nothing new is routed here (with no other replica, the plugboard says so itself).
  assert.equal((await board.request("Echo", { text: "late" })).status, 422);
  const answers = await Promise.all(slow);
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200], "answered after the leave");
  const { code } = await service.exited;
  assert.equal(code, EXIT_CODE.ok);
  const frames = board.frames.filter((f) => f.direction === "in").map((f) => JSON.parse(f.text) as [string | null, string | null, string, string, unknown]);
  const events = frames.map((f) => f[3]).filter((e) => e !== "heartbeat");
  const firstLeave = events.indexOf("phx_leave");
  const burst = events.slice(firstLeave + 1);
  assert.deepEqual(burst, ["phx_join", "response", "response", "response", "response", "response", "phx_leave"], `the burst: ${events.join(" ")}`);
  const burstJoin = frames.find((f) => f[3] === "phx_join" && frames.indexOf(f) > frames.findIndex((g) => g[3] === "phx_leave"))!;
  assert.ok(frames.filter((f) => f[3] === "response").slice(-5).every((f) => f[0] === burstJoin[0]), "the answers carry the burst's join_ref");
  assert.ok(service.lines().some((l) => l.msg === "stopped cleanly" && l.leaves === 2 && l.handed_over === 0));
});

test("SIGTERM with another replica on the same database: it leaves once, and the other replica delivers its answers", async () => {
  const board = await DevPlugboard.start({ requestTimeoutMs: 15_000 });
  boards.push(board);
  const database = await serviceDatabaseEnv();
  const replica = (name: string) =>
    startService({
      WEBSOCKET_URL: board.socketUrl,
      TOKEN: board.token,
      JWT_SECRET: SECRET,
      ACTIONS_DIR: compiledFixtures("actions"),
      DATA_DIR: mkdtempSync(path.join(tmpdir(), `vera-handover-${name}-`)),
      ...database,
    });
  const stays = replica("a");
  processes.push(stays);
  await stays.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
  const goes = replica("b");
  processes.push(goes);
  await goes.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
  await board.waitFor(() => board.consumers().filter((c) => c.joined).length === 2);
  // Round-robin: of eight slow requests, four are the leaving replica's.
  const slow = Array.from({ length: 8 }, () => board.request("Slow", { ms: 800 }));
  await until(() => requestsPushed(board) === 8);
  await new Promise((resolve) => setTimeout(resolve, 100));
  goes.kill("SIGTERM");
  const answers = await Promise.all(slow);
  assert.deepEqual(answers.map((a) => a.status), Array(8).fill(200));
  assert.equal((await goes.exited).code, EXIT_CODE.ok);
  const stopped = goes.lines().find((l) => l.msg === "stopped cleanly");
  assert.deepEqual([stopped?.leaves, stopped?.handed_over], [1, 4], JSON.stringify(stopped));
  assert.equal(board.consumers().filter((c) => c.joined).length, 1, "the other replica serves on");
  assert.equal((await board.request("Echo", { text: "after" })).status, 200);
});

test("a second SIGTERM stops at once, with a log line", async () => {
  const { board, service } = await serve({ SHUTDOWN_TIMEOUT_MS: "20000", ACTION_TIMEOUT_MS: "20000" });
  void board.request("Hang", {});
  await until(() => requestsPushed(board) === 1);
  const started = Date.now();
  service.kill("SIGTERM");
  await service.waitForLine((l) => /draining/.test(String(l.msg)));
  service.kill("SIGTERM");
  const { code } = await service.exited;
  assert.notEqual(code, EXIT_CODE.ok);
  assert.ok(Date.now() - started < 5_000);
  assert.ok(service.lines().some((l) => /stopping at once: second SIGTERM/.test(String(l.msg))));
});

test("a SIGTERM while the service starts: it finishes starting, then drains and exits 0 (no half-started process killed)", async () => {
  const { service } = await starting();
  // The actions are loaded first; the database is opened and migrated after.
  await service.waitForLine((l) => l.msg === "actions loaded", 30_000);
  service.kill("SIGTERM");
  await service.waitForLine((l) => l.msg === "shutting down once started");
  const { code } = await service.exited;
  assert.equal(code, EXIT_CODE.ok, service.output().slice(-2000));
  const messages = service.lines().map((l) => l.msg);
  assert.ok(messages.includes("stopped cleanly"), service.output().slice(-2000));
  // "services ready": the providers started, after the database opened and migrated.
  const [taken, ready, stopping] = ["shutting down once started", "services ready", "shutting down"].map((msg) => messages.indexOf(msg)) as [number, number, number];
  assert.ok(taken >= 0 && taken < ready && ready < stopping, "the signal was taken during the start, the start finished, then the drain began");
});

test("the shutdown deadline ends a drain that cannot finish", async () => {
  const { board, service } = await serve({ SHUTDOWN_TIMEOUT_MS: "500", ACTION_TIMEOUT_MS: "20000" });
  void board.request("Hang", {});
  await until(() => requestsPushed(board) === 1);
  service.kill("SIGTERM");
  const { code } = await service.exited;
  assert.notEqual(code, EXIT_CODE.ok);
  assert.ok(service.lines().some((l) => /stopping at once: shutdown deadline passed/.test(String(l.msg))));
});

test("the deadline answers what is left (503 queued, 504 aborted) through one last join, and exits 1", async () => {
  const { board, service } = await serve({ SHUTDOWN_TIMEOUT_MS: "1000", MAX_CONCURRENCY: "1", ACTION_TIMEOUT_MS: "20000" });
  const calls = Array.from({ length: 3 }, () => board.request("Slow", { ms: 5_000 }));
  await until(() => requestsPushed(board) === 3);
  service.kill("SIGTERM");
  const answers = await Promise.all(calls);
  assert.deepEqual(answers.map((a) => a.status).sort(), [503, 503, 504], `every caller hears back, none waits for the plugboard's 408: ${service.lines().map((l) => l.msg).join(" | ")} // ${board.frames.filter((f) => f.direction === "in").map((f) => f.text.slice(0, 60)).join(" ")}`);
  const { code } = await service.exited;
  assert.equal(code, EXIT_CODE.failed);
  assert.ok(!service.lines().some((l) => l.msg === "stopped cleanly"));
});

test("service_deleted for our service: a log line that says so, and a non-zero exit", async () => {
  const { board, service } = await serve();
  const id = board.service.id;
  board.faults.push("service_deleted", { service: { id: "someone-else", name: "child" } });
  board.faults.push("service_deleted", { service: { id, name: "ours" } });
  const { code } = await service.exited;
  assert.equal(code, EXIT_CODE.serviceDeleted);
  const line = service.lines().find((l) => l.level === "fatal")!;
  assert.match(String(line.msg), /deleted this service/);
});

test("no secret reaches the log, even at trace level", async () => {
  const { board, service } = await serve({ LOG_LEVEL: "trace" });
  board.faults.push("token_created", { token: { id: "t1", value: "plaintext-token-value-123", context: "api", service_id: board.service.id } });
  await service.waitForLine((l) => l.msg === "token created");
  assert.equal((await board.request("Echo", { text: "hi" })).status, 200);
  service.kill("SIGTERM");
  await service.exited;
  const output = service.output();
  for (const secret of [board.token, SECRET, "plaintext-token-value-123"]) assert.ok(!output.includes(secret), `log contains ${secret.slice(0, 6)}…`);
  assert.ok(output.includes('"token_id":"t1"'));
});

test("SIGTERM under continuous load: every request routed here is answered 200, none with 503, none lost", async () => {
  const { board, service } = await serve({ SHUTDOWN_TIMEOUT_MS: "10000" });
  const statuses: number[] = [];
  let running = true;
  const worker = async () => {
    while (running) {
      const answer = await board.request("Slow", { ms: 30 });
      statuses.push(answer.status);
      if (answer.status === 422) running = false; // the replica left: nobody to send to
    }
  };
  const workers = Array.from({ length: 16 }, worker);
  await until(() => statuses.length >= 100, 10_000, "load under way");
  service.kill("SIGTERM");
  const { code } = await service.exited;
  running = false;
  await Promise.all(workers);
  assert.equal(code, EXIT_CODE.ok);
  const counts = statuses.reduce((m, s) => m.set(s, (m.get(s) ?? 0) + 1), new Map<number, number>());
  // 422 is the plugboard's own answer once the only replica has left; nothing else may fail.
  assert.deepEqual([...counts.keys()].filter((s) => ![200, 422].includes(s)), [], `statuses: ${[...counts]}`);
  assert.ok((counts.get(200) ?? 0) >= 100);
});
