/**
 * Two defects of the Vera Plugboard that lose calls with no shutdown at all (docs/protocol.md,
 * seen at b6f96f3), modelled by the dev plugboard's faults (src/devboard/router.ts), and the
 * consumer's answer to the one in its reach:
 * - it pushes a request before it registers the waiting caller, and drops an answer that comes
 *   back sooner: the consumer holds a fast answer back until ANSWER_HOLD_MS after its request
 *   arrived (never a second copy: a copy would reach the next call on a kept-alive connection);
 * - after a consumer leaves, its round-robin position can point past the end of the list, and
 *   that request is thrown away: nothing a consumer can save, but each leave is a chance for it,
 *   so a drain leaves once (tests/drain.test.ts).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { DevPlugboard } from "../src/devboard/server.ts";
import { startConsumer, type TestConsumer } from "./support/consumer.ts";

const boards: DevPlugboard[] = [];
const consumers: TestConsumer[] = [];
after(async () => {
  await Promise.all(consumers.map((c) => c.stop().catch(() => undefined)));
  await Promise.all(boards.map((b) => b.stop()));
});

async function board(): Promise<DevPlugboard> {
  const started = await DevPlugboard.start({ requestTimeoutMs: 1_000 });
  boards.push(started);
  return started;
}

async function consumerOf(target: DevPlugboard, answerHoldMs: number): Promise<TestConsumer> {
  const joined = target.waitFor("join");
  const consumer = await startConsumer({ url: target.socketUrl, token: target.token, logLevel: "warn", client: { answerHoldMs } });
  consumers.push(consumer);
  await joined;
  return consumer;
}

test("the registration race: answers sooner than the caller is registered are lost (408); with ANSWER_HOLD_MS past it none is", async () => {
  const racing = await board();
  // A window wide enough that an Echo answer lands inside it even on a loaded machine.
  racing.faults.registerCallersAfter(200);
  const eager = await consumerOf(racing, 0);
  const statuses = (await Promise.all(Array.from({ length: 20 }, (_, i) => racing.request("Echo", { text: `eager ${i}` })))).map((a) => a.status);
  assert.ok(statuses.filter((s) => s === 408).length >= 15, `an answer back within 200 ms is dropped: ${statuses.join(" ")}`);
  assert.ok(racing.faults.lost.answeredTooSoon >= 15);
  await eager.stop();

  const patient = await board();
  patient.faults.registerCallersAfter(200);
  await consumerOf(patient, 250);
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => patient.request("Echo", { text: `patient ${i}` })));
  assert.deepEqual([...new Set(answers.map((a) => a.status))], [200], "every answer waited out the race");
  assert.equal(patient.faults.lost.answeredTooSoon, 0);
});

test("the round-robin defect: after a consumer leaves, the position can point past the end and that request is thrown away (408)", async () => {
  const target = await board();
  target.faults.keepStaleRoundRobin(true);
  await consumerOf(target, 0);
  const second = await consumerOf(target, 0);
  assert.equal((await target.request("Echo", { text: "to the first" })).status, 200, "the position now points at the second");
  await second.stop();
  await target.waitFor(() => target.consumers().filter((c) => c.joined).length === 1);
  assert.equal((await target.request("Echo", { text: "thrown away" })).status, 408);
  assert.equal(target.faults.lost.pastTheEnd, 1);
  assert.equal((await target.request("Echo", { text: "served again" })).status, 200, "then it starts from the beginning");
});
