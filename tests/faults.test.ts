/**
 * Faults on the wire, against the dev plugboard: sockets dropped mid-load, a plugboard that is
 * down at start or restarts, channels that keep crashing. Nothing is lost, nothing runs twice.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { DevPlugboard } from "../src/devboard/server.ts";
import { startConsumer, until, type TestConsumer } from "./support/consumer.ts";
import { runs } from "./fixtures/actions/Count.ts";
import { freePort } from "../src/net.ts";

const boards: DevPlugboard[] = [];
const consumers: TestConsumer[] = [];
after(async () => {
  await Promise.all(consumers.map((c) => c.stop().catch(() => undefined)));
  await Promise.all(boards.map((b) => b.stop().catch(() => undefined)));
});

async function board(options: Parameters<typeof DevPlugboard.start>[0] = {}) {
  const b = await DevPlugboard.start({ requestTimeoutMs: 20_000, ...options });
  boards.push(b);
  return b;
}

async function consumer(b: { socketUrl: string; token: string }, options: Partial<Parameters<typeof startConsumer>[0]> = {}) {
  const c = await startConsumer({ url: b.socketUrl, token: b.token, ...options });
  consumers.push(c);
  return c;
}


test("every socket dropped twice mid-load: every request is answered once, no action runs twice", async () => {
  const b = await board();
  const c = await consumer(b);
  await until(() => c.client.isJoined);
  const total = 300;
  const ids = Array.from({ length: total }, (_, i) => `drop-${i}`);
  const answers = ids.map((id, i) => b.request("Count", { id, ms: (i * 7) % 60 }));
  await until(() => runs.size >= 40, 5_000, "load under way");
  await b.faults.dropSockets();
  await until(() => c.client.isJoined, 5_000, "rejoin");
  await until(() => [...runs.keys()].filter((k) => k.startsWith("drop-")).length >= 150, 5_000, "more load");
  await b.faults.dropSockets();
  const results = await Promise.all(answers);
  assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
  results.forEach((r, i) => assert.deepEqual((r.body as { fields: unknown }).fields, { id: ids[i] }));
  for (const id of ids) assert.equal(runs.get(id), 1, `${id} ran ${runs.get(id)} times`);
  await until(() => c.client.isJoined, 10_000, "joined after the drops");
  assert.ok(c.client.reconnects >= 1);
});

test("answers sent just before a drop are sent again after the rejoin; the plugboard ignores the repeat", async () => {
  const b = await board();
  const c = await consumer(b);
  await until(() => c.client.isJoined);
  const answered = await b.request("Count", { id: "resend-1" });
  assert.equal(answered.status, 200);
  await b.faults.dropSockets();
  await until(() => c.client.isJoined, 5_000, "rejoin");
  const responses = () => b.frames.filter((f) => f.direction === "in" && f.text.includes('"response"') && f.text.includes('"resend-1"'));
  // Sent once, then again after the rejoin.
  await until(() => responses().length === 2, 5_000, "the answer sent again");
  assert.equal(c.client.answers.stats.resent, 1);
  assert.equal(runs.get("resend-1"), 1);
});

test("the plugboard is down when the consumer starts: it joins once the plugboard is up", async () => {
  const port = await freePort();
  const token = "fixed-token-for-this-test";
  const c = await consumer({ socketUrl: `ws://127.0.0.1:${port}/websocket`, token }, { client: { reconnectAfterMs: () => 50 } });
  await until(() => c.lines().some((l) => String(l.msg).startsWith("lost the plugboard; reconnecting")), 5_000, "failed attempt");
  assert.equal(c.client.isJoined, false);
  const b = await board({ port, token });
  await until(() => c.client.isJoined, 5_000, "join after the plugboard came up");
  assert.equal((await b.request("Echo", { text: "up" })).status, 200);
});

test("the plugboard restarts on the same port: the consumer reconnects and rejoins", async () => {
  const first = await board();
  const c = await consumer(first, { client: { reconnectAfterMs: () => 50 } });
  await until(() => c.client.isJoined);
  const { port, token } = first;
  await first.stop();
  await until(() => !c.client.isJoined, 5_000, "noticed the stop");
  const second = await board({ port, token });
  await until(() => c.client.isJoined, 10_000, "rejoined the new plugboard");
  assert.equal((await second.request("Echo", { text: "again" })).status, 200);
});

test("the channel crashes again and again: the consumer rejoins each time on the same socket and keeps serving", async () => {
  const b = await board();
  const c = await consumer(b);
  await until(() => c.client.isJoined);
  const socket = b.consumers()[0]!.id;
  for (let i = 0; i < 10; i++) {
    b.faults.crashChannel();
    await until(() => b.consumers()[0]?.joined === true && c.client.isJoined, 5_000, `rejoin ${i}`);
    assert.equal((await b.request("Count", { id: `crash-${i}` })).status, 200);
  }
  assert.equal(b.consumers()[0]!.id, socket);
  assert.equal(c.client.reconnects, 0);
});

test("requests in flight while the channel crashes are answered after the rejoin", async () => {
  const b = await board();
  const c = await consumer(b, { client: { rejoinAfterMs: () => 200 } });
  await until(() => c.client.isJoined);
  const pending = Array.from({ length: 20 }, (_, i) => b.request("Count", { id: `inflight-crash-${i}`, ms: 50 }));
  await until(() => c.dispatcher.inFlight > 0);
  b.faults.crashChannel();
  const results = await Promise.all(pending);
  assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
  for (let i = 0; i < 20; i++) assert.equal(runs.get(`inflight-crash-${i}`), 1);
});
