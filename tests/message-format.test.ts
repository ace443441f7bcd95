/**
 * MESSAGE_FORMAT: the Vera Plugboard hands its HTTP caller only `status` and `message`, so with
 * `answer` every answer the framework or an action makes carries `{text, status_code, fields}` in
 * `message` (docs/protocol.md). `text` keeps the payload as it was.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../src/config.ts";
import { toAnswer, wirePayload, ok } from "../src/actions/responses.ts";
import { boardKit } from "./support/boards.ts";

const { boardWithConsumer } = boardKit();

test("MESSAGE_FORMAT is text or answer; anything else stops the start", () => {
  assert.equal(loadConfig({}).messageFormat, "answer", "the default: what callers behind the real plugboard need");
  assert.equal(loadConfig({ MESSAGE_FORMAT: "text" }).messageFormat, "text");
  assert.equal(loadConfig({ MESSAGE_FORMAT: "answer" }).messageFormat, "answer");
  assert.throws(() => loadConfig({ MESSAGE_FORMAT: "json" }), (error: unknown) => error instanceof ConfigError && /MESSAGE_FORMAT/.test(error.message));
});

test("wirePayload: text leaves the payload alone; answer moves everything into message", () => {
  const payload = toAnswer(ok("Done", { jwt: "x.y.z" }));
  assert.equal(wirePayload(payload, "text"), payload);
  assert.deepEqual(wirePayload(payload, "answer"), {
    status: "success",
    status_code: 200,
    message: { text: "Done", status_code: 200, fields: { jwt: "x.y.z" } },
    fields: null,
  });
});

test("over the wire with MESSAGE_FORMAT=answer: the action's answer and the framework's own", async () => {
  const board = await boardWithConsumer({}, { client: { messageFormat: "answer" }, dispatcher: { messageFormat: "answer" } });
  /** The payload of the last answer on the wire. */
  const wire = () => (JSON.parse(board.frames.filter((f) => f.direction === "in" && f.text.includes('"response"')).at(-1)!.text) as unknown[])[4];

  const echo = await board.request("Echo", { text: "hi" });
  assert.deepEqual(wire(), { status: "success", status_code: 200, message: { text: "Echoed", status_code: 200, fields: { text: "hi" } }, fields: null });
  // The dev plugboard's full mode shows it flat again.
  assert.deepEqual(echo, { status: 200, body: { status: "success", status_code: 200, message: "Echoed", fields: { text: "hi" } } });
  await board.request("Nope", {});
  assert.deepEqual(wire(), { status: "error", status_code: 404, message: { text: "Unknown action: Nope", status_code: 404, fields: null }, fields: null });
  await board.request("Echo", { text: "" });
  const message = (wire() as { message: { text: string; status_code: number; fields: { errors: unknown[] } } }).message;
  assert.equal(message.status_code, 400);
  assert.match(message.text, /^Invalid fields: text:/);
  assert.equal(message.fields.errors.length, 1);
  await board.request("Teapot", {});
  assert.deepEqual((wire() as { message: unknown }).message, { text: "I'm a teapot", status_code: 418, fields: { brewing: false } });
  await board.request("Boom", {});
  assert.deepEqual(wire(), {
    status: "error",
    status_code: 500,
    message: { text: "Internal server error", status_code: 500, fields: null },
    fields: null,
  });
});

test("behind a plugboard with the real HTTP mapping: only MESSAGE_FORMAT=answer hands the caller its fields and real status", async () => {
  for (const messageFormat of ["text", "answer"] as const) {
    const board = await boardWithConsumer({ httpMode: "vera" }, { client: { messageFormat }, dispatcher: { messageFormat } });
    // The real request shape: service_id and a bearer account token.
    const call = async (action: string, fields: unknown) => {
      const response = await fetch(`${board.url}/`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${board.accountToken}` },
        body: JSON.stringify({ service_id: board.service.id, action, fields }),
      });
      return { status: response.status, body: (await response.json()) as { status: string; message: unknown } };
    };
    const echo = await call("Echo", { text: "hi" });
    const teapot = await call("Teapot", {});
    assert.equal(echo.status, 200);
    assert.equal(teapot.status, 400, "every error is a 400 behind the real plugboard");
    assert.deepEqual(Object.keys(echo.body).sort(), ["message", "status"], "status_code and fields never reach the caller");
    if (messageFormat === "text") {
      assert.deepEqual(echo.body, { status: "success", message: "Echoed" });
      assert.deepEqual(teapot.body, { status: "error", message: "I'm a teapot" });
    } else {
      assert.deepEqual(echo.body, { status: "success", message: { text: "Echoed", status_code: 200, fields: { text: "hi" } } });
      assert.deepEqual(teapot.body, { status: "error", message: { text: "I'm a teapot", status_code: 418, fields: { brewing: false } } });
    }
  }
});
