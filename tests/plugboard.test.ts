/**
 * The consumer on the wire: the real plugboard client, dispatcher and events/ against the dev
 * plugboard on port 0, over real sockets.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { DevPlugboard } from "../src/devboard/server.ts";
import { startConsumer, until, type TestConsumer } from "./support/consumer.ts";
import { EXIT_CODE } from "../src/ops/exit-codes.ts";

const boards: DevPlugboard[] = [];
const consumers: TestConsumer[] = [];
after(async () => {
  await Promise.all(consumers.map((c) => c.stop().catch(() => undefined)));
  await Promise.all(boards.map((b) => b.stop().catch(() => undefined)));
});

async function setup(
  options: { heartbeatIntervalMs?: number; actionsDir?: string; requestTimeoutMs?: number; client?: Parameters<typeof startConsumer>[0]["client"] } = {},
) {
  const board = await DevPlugboard.start({ requestTimeoutMs: options.requestTimeoutMs ?? 10_000 });
  boards.push(board);
  const consumer = await startConsumer({ url: board.socketUrl, token: board.token, ...options });
  consumers.push(consumer);
  await until(() => consumer.client.isJoined, 5_000, "join");
  return { board, consumer };
}

function framesOf(board: DevPlugboard, direction: "in" | "out") {
  return board.frames.filter((f) => f.direction === direction).map((f) => JSON.parse(f.text) as unknown[]);
}

test("handshake: token, the published actions as JSON text, vsn 2.0.0; join reply kept", async () => {
  const { board, consumer } = await setup();
  const [info] = board.consumers();
  assert.ok(info);
  assert.equal(info.params.token, board.token);
  assert.equal(info.params.vsn, "2.0.0");
  assert.equal(info.params.actions, consumer.registry.json);
  assert.deepEqual(board.publishedActions(), consumer.registry.published);
  assert.equal(info.joined, true);
  // The join reply's service, token metadata and count are kept.
  assert.ok(consumer.client.state.service?.id);
  assert.ok(consumer.client.state.token?.id);
  assert.equal(consumer.client.state.numConsumers, 1);
  // V2 frames: the join is [join_ref, ref, "service", "phx_join", {}].
  const join = framesOf(board, "in").find((f) => f[3] === "phx_join")!;
  assert.equal(join[2], "service");
  assert.deepEqual(join[4], {});
});

test("answers: status code per outcome, status beside it, ref = response_ref, the channel's join_ref", async () => {
  const { board } = await setup({ requestTimeoutMs: 10_000 });
  const cases: Array<[string, unknown, number, string]> = [
    ["Echo", { text: "hi" }, 200, "Echoed"],
    ["Nope", {}, 404, "Unknown action: Nope"],
    ["Echo", { text: 1 }, 400, "Invalid fields: text: must be a string, not a number"],
    ["Boom", {}, 500, "Internal server error"],
    ["DatabaseDown", {}, 503, "Service unavailable"],
  ];
  for (const [action, fields, status, message] of cases) {
    const answer = await board.request(action, fields);
    assert.equal(answer.status, status, action);
    const body = answer.body as { status: string; status_code: number; message: string };
    assert.equal(body.status_code, status);
    assert.equal(body.status, status < 300 ? "success" : "error");
    assert.equal(body.message, message);
  }
  const requests = framesOf(board, "out").filter((f) => f[3] === "request");
  const responses = framesOf(board, "in").filter((f) => f[3] === "response");
  assert.equal(responses.length, cases.length);
  for (const response of responses) {
    const request = requests.find((r) => (r[4] as { response_ref: string }).response_ref === response[1]);
    assert.ok(request, "every response's ref is a request's response_ref");
    assert.equal(response[0], request[0], "the answer carries the channel's join_ref");
    assert.equal(response[2], "service");
  }
});

test("504 when an action passes its deadline", async () => {
  const board = await DevPlugboard.start({});
  boards.push(board);
  const consumer = await startConsumer({ url: board.socketUrl, token: board.token, actionTimeoutMs: 200 });
  consumers.push(consumer);
  await until(() => consumer.client.isJoined);
  const answer = await board.request("Hang", {});
  assert.equal(answer.status, 504);
  assert.equal((answer.body as { message: string }).message, "Action timed out");
});

test("200 concurrent requests, each answered with its own ref", async () => {
  const { board } = await setup();
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => board.request("Echo", { text: `n${i}` })));
  answers.forEach((answer, i) => {
    assert.equal(answer.status, 200);
    assert.deepEqual((answer.body as { fields: unknown }).fields, { text: `n${i}` });
  });
});

test("a slow action does not delay a fast one", async () => {
  const { board } = await setup();
  const order: string[] = [];
  await Promise.all([
    board.request("Slow", { ms: 400 }).then(() => order.push("slow")),
    board.request("Echo", { text: "fast" }).then(() => order.push("fast")),
  ]);
  assert.deepEqual(order, ["fast", "slow"]);
});

test("two replicas share the load round-robin", async () => {
  const { board } = await setup();
  const second = await startConsumer({ url: board.socketUrl, token: board.token });
  consumers.push(second);
  await until(() => second.client.isJoined);
  board.clearFrames();
  for (let i = 0; i < 10; i++) assert.equal((await board.request("Echo", { text: "x" })).status, 200);
  const served = new Map<string, number>();
  for (const f of board.frames) if (f.direction === "out" && f.text.includes('"request"')) served.set(f.consumerId, (served.get(f.consumerId) ?? 0) + 1);
  assert.deepEqual([...served.values()], [5, 5]);
});

test("a replica with different actions is refused (403) and says so in one clear line", async () => {
  const { board } = await setup();
  const other = await startConsumer({
    url: board.socketUrl,
    token: board.token,
    actionsDir: "tests/fixtures/other-actions",
    client: { reconnectAfterMs: () => 50 },
  });
  consumers.push(other);
  await until(() => other.lines().some((l) => /refused the connection \(HTTP 403\)/.test(String(l.msg))), 5_000, "refusal log");
  assert.equal(other.client.isJoined, false);
  const line = other.lines().find((l) => /HTTP 403/.test(String(l.msg)))!;
  assert.match(String(line.msg), /TOKEN is wrong, or this replica's actions differ/);
  assert.equal(line.level, "error");
});

test("a connect URL longer than the plugboard's request-line limit (Bandit, 10,000 bytes) is warned about at start", async () => {
  const board = await DevPlugboard.start({});
  boards.push(board);
  const consumer = await startConsumer({ url: board.socketUrl, token: board.token, actionsDir: "tests/fixtures/big-actions" });
  consumers.push(consumer);
  const line = consumer.lines().find((l) => /connect URL .* is long/.test(String(l.msg)))!;
  assert.ok(line, "a warning");
  assert.ok(Number(line.url_bytes) > 10_000);
  assert.ok(!JSON.stringify(line).includes(board.token), "the URL itself (with the token) is not logged");
});

test("a wrong token is refused, and the backoff is told it was a refusal", async () => {
  const board = await DevPlugboard.start({});
  boards.push(board);
  const tries: boolean[] = [];
  const consumer = await startConsumer({
    url: board.socketUrl,
    token: "wrong",
    client: { reconnectAfterMs: (_t, refused) => (tries.push(refused), 30) },
  });
  consumers.push(consumer);
  await until(() => tries.length >= 2, 5_000, "retries");
  assert.ok(tries.every(Boolean), "the backoff knows the connection was refused");
});

test("all sockets dropped: the consumer reconnects, rejoins and serves", async () => {
  const { board, consumer } = await setup();
  const before = board.consumers()[0]!.id;
  board.faults.dropSockets();
  await until(() => board.consumers().some((c) => c.joined && c.id !== before), 5_000, "rejoin after drop");
  await until(() => consumer.client.isJoined);
  assert.equal((await board.request("Echo", { text: "back" })).status, 200);
  assert.equal(consumer.client.reconnects, 1);
});

test("phx_error: the consumer rejoins on the same socket", async () => {
  const { board, consumer } = await setup();
  const socketId = board.consumers()[0]!.id;
  for (let i = 0; i < 3; i++) {
    board.faults.crashChannel();
    await until(() => !consumer.client.isJoined || board.consumers()[0]!.joined, 2_000);
    await until(() => board.consumers()[0]?.joined === true && consumer.client.isJoined, 5_000, "rejoin after crash");
  }
  assert.equal(board.consumers().length, 1);
  assert.equal(board.consumers()[0]!.id, socketId);
  assert.equal((await board.request("Echo", { text: "ok" })).status, 200);
  const joins = framesOf(board, "in").filter((f) => f[3] === "phx_join");
  assert.equal(joins.length, 4);
});

test("an answer finished during a drop is held and sent after the rejoin", async () => {
  // Reconnecting takes longer than the action, so the answer is ready while the socket is down.
  const { board, consumer } = await setup({ client: { reconnectAfterMs: () => 600 } });
  const pending = board.request("Slow", { ms: 200 });
  await until(() => consumer.dispatcher.inFlight === 1);
  await board.faults.dropSockets();
  await until(() => consumer.client.answers.heldCount === 1, 2_000, "answer held while down");
  assert.equal(board.frames.filter((f) => f.direction === "in" && f.text.includes('"response"')).length, 0);
  const answer = await pending;
  assert.equal(answer.status, 200);
  assert.deepEqual((answer.body as { fields: unknown }).fields, { ms: 200 });
  assert.equal(consumer.client.answers.stats.held, 1);
});

test("an unexpected phx_close of our channel: the consumer joins again and serves", async () => {
  const { board, consumer } = await setup();
  for (const joinRef of [board.consumers()[0]!.joinRef, null]) {
    const before = framesOf(board, "in").filter((f) => f[3] === "phx_join").length;
    board.faults.sendRaw(JSON.stringify([joinRef, joinRef, "service", "phx_close", {}]));
    await until(() => framesOf(board, "in").filter((f) => f[3] === "phx_join").length > before, 5_000, "a new join");
    await until(() => consumer.client.isJoined && board.consumers()[0]!.joined, 5_000, "joined again");
    assert.equal((await board.request("Echo", { text: "back" })).status, 200);
  }
  assert.ok(consumer.lines().some((l) => l.msg === "the plugboard closed our channel; joining again"));
});

test("heartbeats every interval; an unanswered one makes the consumer reconnect", async () => {
  const { board, consumer } = await setup({ heartbeatIntervalMs: 100 });
  await until(() => framesOf(board, "in").filter((f) => f[2] === "phoenix" && f[3] === "heartbeat").length >= 3, 3_000, "heartbeats");
  const beat = framesOf(board, "in").find((f) => f[3] === "heartbeat")!;
  assert.equal(beat[0], null);
  assert.deepEqual(beat[4], {});
  const first = board.consumers()[0]!.id;
  board.faults.setHeartbeatReplies(false);
  await until(() => !board.consumers().some((c) => c.id === first), 3_000, "dead socket closed");
  board.faults.setHeartbeatReplies(true);
  await until(() => consumer.client.isJoined && board.consumers().some((c) => c.joined), 5_000, "rejoined");
  assert.equal((await board.request("Echo", { text: "alive" })).status, 200);
});

test("malformed frames and payloads are logged and survived", async () => {
  const { board, consumer } = await setup();
  board.faults.push("request", { action: "Echo" }); // no response_ref
  board.faults.push("num_consumers", { num_consumers: "many" });
  board.faults.push("service_updated", { nope: true });
  board.faults.push("something_new", { x: 1 });
  board.faults.sendRaw("not json at all");
  board.faults.sendRaw('{"an":"object"}');
  board.faults.sendRaw('[null,null,"service","request","a string payload"]');
  for (const response_ref of [42, "", "r".repeat(201)]) board.faults.push("request", { action: "Echo", fields: { text: "x" }, response_ref });
  await until(() => consumer.lines().filter((l) => /ignored a malformed/.test(String(l.msg))).length >= 8, 3_000, "warnings");
  const refProblems = consumer.lines().filter((l) => l.msg === "ignored a malformed event payload" && l.event === "request");
  assert.equal(refProblems.length, 4);
  assert.ok(refProblems.every((l) => String((l.problems as string[])[0]).startsWith("response_ref: ")), JSON.stringify(refProblems));
  await until(() => consumer.lines().some((l) => l.msg === "ignored an unknown plugboard event"));
  assert.equal(consumer.client.isJoined, true);
  assert.equal((await board.request("Echo", { text: "still here" })).status, 200);
});

test("events of child services are ignored; num_consumers and tokens are kept without the value", async () => {
  const { board, consumer } = await setup();
  const ours = consumer.client.state.service!;
  board.faults.push("service_updated", { service: { id: "child-1", name: "child" } });
  board.faults.push("service_deleted", { service: { id: "child-1", name: "child" } });
  board.faults.push("service_updated", { service: { ...ours, name: "renamed" } });
  board.faults.push("num_consumers", { num_consumers: 7 });
  board.faults.push("token_created", { token: { id: "tok-9", value: "s3cr3t-token-value", context: "api", service_id: ours.id } });
  await until(() => consumer.client.state.tokens.has("tok-9") && consumer.client.state.numConsumers === 7);
  assert.equal(consumer.client.state.service?.name, "renamed");
  assert.equal(consumer.fatal.length, 0);
  assert.equal((consumer.client.state.tokens.get("tok-9") as Record<string, unknown>).value, undefined);
  board.faults.push("token_deleted", { token: { id: "tok-9", context: "api" } });
  await until(() => !consumer.client.state.tokens.has("tok-9"));
  assert.ok(!consumer.text().includes("s3cr3t-token-value"));
  assert.ok(!consumer.text().includes(board.token), "the service TOKEN never reaches the log");
});

test("our own service_deleted stops the consumer with a non-zero code", async () => {
  const { board, consumer } = await setup();
  board.faults.push("service_deleted", { service: consumer.client.state.service });
  await until(() => consumer.fatal.length === 1);
  assert.match(consumer.fatal[0]!.reason, /deleted this service/);
  assert.notEqual(consumer.fatal[0]!.exitCode, EXIT_CODE.ok);
});
