/**
 * Random plugboard frames (fast-check) at a live consumer: garbage, odd shapes, and
 * well-formed request pushes with random contents. The consumer never crashes, answers every
 * request push that carries a usable response_ref with a 4xx, and keeps serving.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DevPlugboard } from "../src/devboard/server.ts";
import { startConsumer, until, type TestConsumer } from "./support/consumer.ts";

let board: DevPlugboard | undefined;
let consumer: TestConsumer | undefined;
after(async () => {
  await consumer?.stop();
  await board?.stop();
});

const anyJson = fc.jsonValue({ maxDepth: 4 });
const frameText = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  anyJson.map((v) => JSON.stringify(v)),
  fc.tuple(fc.oneof(fc.string(), fc.constant(null), fc.integer()), fc.oneof(fc.string(), fc.constant(null)), fc.oneof(fc.constant("service"), fc.string()), fc.oneof(fc.constantFrom("request", "num_consumers", "service_updated", "service_deleted", "token_created", "phx_reply", "phx_error", "phx_close"), fc.string()), anyJson).map((t) => JSON.stringify(t)),
);

test("random frames never crash the consumer, and it keeps serving", async () => {
  board = await DevPlugboard.start({});
  consumer = await startConsumer({ url: board.socketUrl, token: board.token });
  await until(() => consumer!.client.isJoined);
  await fc.assert(
    fc.asyncProperty(fc.array(frameText, { minLength: 1, maxLength: 20 }), async (texts) => {
      for (const text of texts) {
        // Frames that say our service was deleted, or our channel ended (phx_close, phx_error),
        // rightly stop or rejoin it; a board that still counts us joined would then push into
        // the gap. Those are tested on their own (tests/plugboard.test.ts).
        if (/service_deleted|phx_close|phx_error/.test(text)) continue;
        board!.faults.sendRaw(text);
      }
      await until(() => consumer!.client.isJoined, 5_000, "joined");
      assert.equal((await board!.request("Echo", { text: "alive" })).status, 200);
    }),
    { numRuns: 60 },
  );
  assert.equal(consumer.fatal.length, 0);
});

test("well-formed request pushes with random contents are answered with a 4xx", async () => {
  assert.ok(board && consumer);
  const joinRef = board.consumers()[0]!.joinRef;
  const refs: string[] = [];
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.string(), anyJson), anyJson, fc.uuid(), async (action, fields, ref) => {
      refs.push(ref);
      board!.faults.sendRaw(JSON.stringify([joinRef, null, "service", "request", { action, fields, response_ref: ref }]));
    }),
    { numRuns: 200 },
  );
  const answerOf = (ref: string) => board!.frames.find((f) => f.direction === "in" && f.text.includes(`"${ref}"`) && f.text.includes('"response"'));
  await until(() => refs.every((r) => answerOf(r)), 10_000, "every push answered");
  for (const ref of refs) {
    const [, frameRef, , , payload] = JSON.parse(answerOf(ref)!.text) as [string, string, string, string, { status_code: number; status: string }];
    assert.equal(frameRef, ref);
    assert.ok(payload.status_code >= 400 && payload.status_code < 500, `${ref}: ${payload.status_code}`);
    assert.equal(payload.status, "error");
  }
});
