/**
 * Bounded in, bounded out. The attack: a request with 200,000 unknown field names (2.3 MB) got
 * a 400 whose message and `fields.errors` listed every one, over 8 MB; a plugboard with a frame
 * limit closed the socket (1009), the consumer rejoined and sent the same answer again, 92–142
 * socket kills in 10 s. Now: error lists are capped, oversized requests get 413 before
 * validation, oversized answers become a small 500, and an answer whose frame the plugboard
 * refused is never sent again.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_LISTED_ERRORS } from "../src/actions/validation.ts";
import { DevPlugboard } from "../src/devboard/server.ts";
import { inProcessDispatcher } from "./support/dispatcher.ts";
import { startConsumer, type TestConsumer } from "./support/consumer.ts";

const LARGE = "tests/fixtures/large";

/** `count` unknown field names, about 11 bytes each in JSON. */
function unknownFields(count: number): Record<string, number> {
  const fields: Record<string, number> = {};
  for (let i = 0; i < count; i++) fields[`f${i}`] = 1;
  return fields;
}


let refs = 0;
const ref = () => `bounded-${++refs}`;

describe("bounded answers, in process", () => {
  test("200,000 unknown field names: a 400 that lists 20 problems and counts the rest", async () => {
    const { d } = await inProcessDispatcher("tests/fixtures/actions");
    const answer = await d.dispatch({ action: "Echo", fields: unknownFields(200_000), response_ref: ref() });
    assert.equal(answer.status_code, 400);
    const fields = answer.fields as { errors: Array<{ field: string; message: string }>; omitted: number };
    assert.equal(fields.errors.length, MAX_LISTED_ERRORS);
    // So many unknown names are counted before the schema is even run.
    assert.deepEqual(fields.errors[0], { field: "f0", message: "is not a known field" });
    assert.equal(fields.omitted, 200_000 - MAX_LISTED_ERRORS);
    assert.match(answer.message!, /; and 199980 more$/);
    assert.ok(JSON.stringify(answer).length < 4_096, `answer of ${JSON.stringify(answer).length} bytes`);
  });

  test("a field name of 100,000 characters is clipped in the answer", async () => {
    const { d } = await inProcessDispatcher("tests/fixtures/actions");
    const answer = await d.dispatch({ action: "Echo", fields: { text: "hi", ["k".repeat(100_000)]: 1 }, response_ref: ref() });
    assert.equal(answer.status_code, 400);
    const [error] = (answer.fields as { errors: Array<{ field: string }> }).errors;
    assert.equal(error!.field, `${"k".repeat(100)}…`);
    assert.ok(JSON.stringify(answer).length < 1_000);
  });

  test("a request frame over MAX_REQUEST_BYTES: 413 before anything is validated", async () => {
    const { d } = await inProcessDispatcher("tests/fixtures/actions", { maxRequestBytes: 10_000 });
    const big = await d.dispatch({ action: "Echo", fields: unknownFields(10), response_ref: ref(), bytes: 10_001 });
    assert.deepEqual(big, { status: "error", status_code: 413, message: "Request too large: at most 10000 bytes", fields: null });
    const unknown = await d.dispatch({ action: "Nope", fields: {}, response_ref: ref(), bytes: 50_000 });
    assert.equal(unknown.status_code, 413, "even an unknown action: nothing is looked at");
    assert.equal((await d.dispatch({ action: "Echo", fields: { text: "ok" }, response_ref: ref(), bytes: 10_000 })).status_code, 200);
  });

  test("an answer over MAX_ANSWER_BYTES, or one JSON cannot encode, becomes a small 500 and a log line", async () => {
    const { d, lines } = await inProcessDispatcher(LARGE, { maxAnswerBytes: 100_000 });
    assert.equal((await d.dispatch({ action: "Large", fields: { bytes: 90_000 }, response_ref: ref() })).status_code, 200);
    const large = await d.dispatch({ action: "Large", fields: { bytes: 100_000 }, response_ref: ref() });
    assert.deepEqual(large, { status: "error", status_code: 500, message: "Internal server error: answer too large", fields: null });
    assert.ok(lines().some((l) => l.msg === "answer larger than MAX_ANSWER_BYTES: replaced by a 500" && l.action === "Large" && l.limit === 100_000));
    const bigint = await d.dispatch({ action: "Large", fields: { bytes: 1, unencodable: true }, response_ref: ref() });
    assert.deepEqual(bigint, { status: "error", status_code: 500, message: "Internal server error", fields: null });
  });
});

describe("bounded answers, over the wire", () => {
  const boards: DevPlugboard[] = [];
  const consumers: TestConsumer[] = [];
  after(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await Promise.all(boards.map((b) => b.stop()));
  });

  /** A plugboard that closes a socket sending a frame over 64 KiB (1009), with a consumer joined. */
  async function limitedBoard(actionsDir: string) {
    const board = await DevPlugboard.start({ port: 0, maxFrameBytes: 64 * 1024, requestTimeoutMs: 8_000 });
    boards.push(board);
    const disconnects: number[] = [];
    board.on("disconnect", ({ code }) => disconnects.push(code));
    const joined = board.waitFor("join");
    const consumer = await startConsumer({ url: board.socketUrl, token: board.token, actionsDir, logLevel: "info" });
    consumers.push(consumer);
    await joined;
    return { board, consumer, disconnects };
  }

  test("the attack: 200,000 unknown fields get one small answer and the socket stays up", async () => {
    const { board, disconnects } = await limitedBoard("tests/fixtures/actions");
    // 2.3 MB: refused by size before validation.
    const huge = await board.request("Echo", unknownFields(200_000));
    assert.equal(huge.status, 413);
    assert.equal((huge.body as { message: string }).message, "Request too large: at most 65536 bytes");
    // 55 kB, under the request limit: a 400 that lists 20 problems, far under the frame limit.
    const many = await board.request("Echo", unknownFields(5_000));
    assert.equal(many.status, 400);
    assert.ok(JSON.stringify(many.body).length < 4_096);
    assert.equal((await board.request("Echo", { text: "still here" })).status, 200);
    assert.deepEqual(disconnects, [], "no socket was lost");
  });

  test("an answer the plugboard refuses (1009) is never sent again: the caller gets a 500, one socket lost", async () => {
    const { board, consumer, disconnects } = await limitedBoard(LARGE);
    const first = await board.request("Large", { bytes: 100_000 });
    assert.equal(first.status, 500);
    assert.equal((first.body as { message: string }).message, "Internal server error: answer too large");
    assert.deepEqual(disconnects, [1009]);
    assert.ok(consumer.lines().some((l) => l.close_code === 1009 && (l.refused_bytes as number) > 100_000));
    // From now on such answers go out small at once; smaller ones as they are.
    const again = await board.request("Large", { bytes: 200_000 });
    assert.equal(again.status, 500);
    assert.equal((await board.request("Large", { bytes: 1_000 })).status, 200);
    assert.deepEqual(disconnects, [1009], "no second socket lost");
    assert.equal(consumer.client.answers.stats.oversized, 2);
  });
});
