/**
 * The dev plugboard modelling the Vera Plugboard's own HTTP API, over real HTTP on port 0: the
 * real request shape (`{service_id, action, fields}` with `Authorization: Bearer <account token>`)
 * beside the dev one in both modes, its 401/403/400 refusals, and `PLUGBOARD_HTTP=vera`'s answers
 * (200/400 `{status, message}`, 502, 422, 408) against `full`'s. Consumers are the real test
 * consumer over tests/fixtures/actions, or a raw `ws` client answering with hand-made payloads.
 */
import { once } from "node:events";
import { randomUUID } from "node:crypto";
import { after, describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { DevPlugboard, type DevPlugboardOptions } from "../src/devboard/server.ts";
import { VERA_HTTP_MESSAGE, veraAnswer } from "../src/devboard/vera.ts";
import { EXPLORE_PATH } from "../src/devboard/explorer.ts";
import { decode, encode, type Message } from "../src/plugboard/frames.ts";
import { EVENT, PHX, PLUGBOARD_HTTP_MESSAGE, SOCKET_PARAM, TOPIC, VSN_V2 } from "../src/plugboard/wire.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { boardKit } from "./support/boards.ts";

const sockets: WebSocket[] = [];
after(() => {
  for (const socket of sockets) socket.terminate();
});

const { startBoard, boardWithConsumer } = boardKit();

/**
 * A board with a hand-written consumer that answers every request with `fields.reply` verbatim,
 * whatever it is: the payloads no well-behaved consumer sends.
 */
async function boardWithRawConsumer(options: DevPlugboardOptions = {}): Promise<DevPlugboard> {
  const board = await startBoard(options);
  const query = new URLSearchParams({ [SOCKET_PARAM.token]: board.token, [SOCKET_PARAM.actions]: JSON.stringify({ Reply: { fields: {} } }), [SOCKET_PARAM.vsn]: VSN_V2 });
  const ws = new WebSocket(`${board.socketUrl}?${query}`);
  sockets.push(ws);
  await once(ws, "open");
  const joined = board.waitFor("join");
  ws.on("message", (data) => {
    const decoded = decode(String(data));
    assert.ok(decoded.ok);
    const { message } = decoded;
    if (message.event !== EVENT.request) return;
    const payload = message.payload as { fields: { reply: unknown }; response_ref: string };
    const answer: Message = { join_ref: message.join_ref, ref: payload.response_ref, topic: TOPIC.service, event: EVENT.response, payload: payload.fields.reply };
    ws.send(encode(answer));
  });
  ws.send(encode({ join_ref: "1", ref: "1", topic: TOPIC.service, event: PHX.join, payload: {} }));
  await joined;
  return board;
}

interface Answer {
  status: number;
  body: unknown;
}

/** `POST /` (or another path) as JSON, with these extra headers; fetch names the board's own Host. */
async function post(board: DevPlugboard, body: unknown, headers: Record<string, string> = {}, path = "/"): Promise<Answer> {
  const response = await fetch(`${board.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The real shape: the board's service id and account token unless overridden. */
function real(board: DevPlugboard, action: string, fields: unknown, override: { token?: string | null; body?: Record<string, unknown> } = {}): [unknown, Record<string, string>] {
  const token = override.token === undefined ? board.accountToken : override.token;
  const body = { service_id: board.service.id, action, fields, ...override.body };
  return [body, token === null ? {} : { authorization: `Bearer ${token}` }];
}

/** How many `request` pushes the board sent its consumers. */
function requestsSent(board: DevPlugboard): number {
  return board.frames.filter((f) => f.direction === "out" && f.text.includes(`"${EVENT.request}"`)).length;
}

const error = (message: unknown) => ({ status: "error", message });
const TEXT_FORMAT = { client: { messageFormat: "text" }, dispatcher: { messageFormat: "text" } } as const;
const NO_CONSUMERS = error(PLUGBOARD_HTTP_MESSAGE.noConsumers);
const TIMED_OUT = error(PLUGBOARD_HTTP_MESSAGE.timedOut);
const INVALID_TOKEN = { status: 401, body: error(VERA_HTTP_MESSAGE.invalidToken) };
const FORBIDDEN = { status: 403, body: error(VERA_HTTP_MESSAGE.forbidden) };
const MISSING = { status: 400, body: error(VERA_HTTP_MESSAGE.missingParams) };
const BAD_ANSWER = { status: 502, body: error(VERA_HTTP_MESSAGE.badAnswer) };

describe("veraAnswer: a consumer payload as the Vera Plugboard answers it", () => {
  it("success → 200 {status, message}; status_code and fields never reach the caller", () => {
    assert.deepEqual(veraAnswer({ status: "success", status_code: 201, message: "Created", fields: { jwt: "x" } }), {
      status: 200,
      body: { status: "success", message: "Created" },
    });
    // status decides, not status_code.
    assert.deepEqual(veraAnswer({ status: "success", status_code: 500, message: "odd" }), { status: 200, body: { status: "success", message: "odd" } });
  });

  it("any other status → 400 {status: 'error', message}", () => {
    for (const code of [400, 404, 418, 500, 503]) {
      assert.deepEqual(veraAnswer({ status: "error", status_code: code, message: `m${code}`, fields: { f: 1 } }), { status: 400, body: error(`m${code}`) }, String(code));
    }
    for (const status of ["Success", "ok", null, 1, true, {}]) {
      assert.deepEqual(veraAnswer({ status, message: "m" }), { status: 400, body: error("m") }, JSON.stringify(status));
    }
  });

  it("message passes through as whatever JSON value the consumer sent", () => {
    for (const message of [{ text: "t", status_code: 201, fields: { a: [1] } }, ["a", 1], 42, null, ""]) {
      assert.deepEqual(veraAnswer({ status: "success", message }).body, { status: "success", message });
      assert.deepEqual(veraAnswer({ status: "error", message }).body, { status: "error", message });
    }
  });

  it("without status or message, or not an object → 502", () => {
    for (const payload of [{ status: "success" }, { message: "no status" }, { status_code: 200, fields: {} }, {}, null, "text", 7, [], [{ status: "success", message: "m" }]]) {
      assert.deepEqual(veraAnswer(payload), BAD_ANSWER, JSON.stringify(payload));
    }
  });
});

describe("both request shapes, in both modes, with the test consumer", () => {
  it("full: either shape gets today's answer, status = status_code, body = the payload", async () => {
    const board = await boardWithConsumer();
    assert.equal(board.httpMode, "full");
    const echoed = { status: "success", status_code: 200, message: "Echoed", fields: { text: "hi" } };
    assert.deepEqual(await post(board, { action: "Echo", fields: { text: "hi" } }), { status: 200, body: echoed });
    assert.deepEqual(await post(board, ...real(board, "Echo", { text: "hi" })), { status: 200, body: echoed });
    const teapot = { status: 418, body: { status: "error", status_code: 418, message: "I'm a teapot", fields: { brewing: false } } };
    assert.deepEqual(await post(board, { action: "Teapot" }), teapot);
    assert.deepEqual(await post(board, ...real(board, "Teapot", null)), teapot);
    // board.request is what POST / does.
    assert.deepEqual(await board.request("Echo", { text: "hi" }), { status: 200, body: echoed });
  });

  it("vera: success → 200 {status, message} without fields; 404/418/400 payloads → 400 {status: 'error', message}", async () => {
    // A consumer answering plain payloads (MESSAGE_FORMAT=text): the board's mapping alone.
    const board = await boardWithConsumer({ httpMode: "vera" }, TEXT_FORMAT);
    const echoed = { status: 200, body: { status: "success", message: "Echoed" } };
    assert.deepEqual(await post(board, { action: "Echo", fields: { text: "hi" } }), echoed);
    assert.deepEqual(await post(board, ...real(board, "Echo", { text: "hi" })), echoed);
    assert.deepEqual(await board.request("Echo", { text: "hi" }), echoed);

    const teapot = { status: 400, body: error("I'm a teapot") };
    assert.deepEqual(await post(board, { action: "Teapot" }), teapot);
    assert.deepEqual(await post(board, ...real(board, "Teapot", {})), teapot);
    // The same payloads in full mode had 404 and 400: the caller of the real plugboard sees 400 and the message.
    for (const [action, fields, code] of [["NoSuchAction", {}, 404], ["Echo", { text: "" }, 400]] as const) {
      const full = await (await boardWithConsumer()).request(action, fields);
      assert.equal(full.status, code, `${action} in full mode`);
      const message = (full.body as { message: unknown }).message;
      assert.deepEqual(await post(board, ...real(board, action, fields)), { status: 400, body: error(message) }, action);
      assert.deepEqual(await post(board, { action, fields }), { status: 400, body: error(message) }, `${action}, dev shape`);
    }
  });
});

describe("the real shape's refusals, in every mode", () => {
  for (const httpMode of ["full", "vera"] as const) {
    it(`${httpMode}: 401 for a missing, wrong or non-Bearer token; none reaches the consumer`, async () => {
      const board = await boardWithConsumer({ httpMode });
      board.clearFrames();
      const wrong: Array<Record<string, string>> = [
        {},
        { authorization: "Bearer wrong" },
        { authorization: `Bearer ${board.accountToken}x` },
        { authorization: `Bearer ${board.accountToken.slice(0, -1)}` },
        { authorization: `Basic ${board.accountToken}` },
        { authorization: board.accountToken },
        { authorization: "Bearer" },
        { authorization: "" },
        // The consumers' service token is not an account token.
        { authorization: `Bearer ${board.token}` },
      ];
      for (const headers of wrong) {
        assert.deepEqual(await post(board, real(board, "Echo", { text: "hi" })[0], headers), INVALID_TOKEN, JSON.stringify(headers));
      }
      // An Authorization header alone makes a dev-shaped body a real one.
      assert.deepEqual(await post(board, { action: "Echo", fields: { text: "hi" } }, { authorization: "Bearer wrong" }), INVALID_TOKEN);
      assert.equal(requestsSent(board), 0, "no request went to the consumer");
      // The scheme is case-insensitive, as in HTTP.
      assert.equal((await post(board, real(board, "Echo", { text: "hi" })[0], { authorization: `bearer ${board.accountToken}` })).status, 200);
    });

    it(`${httpMode}: 403 for another service id (compared as strings), 400 without a string service_id or action`, async () => {
      const board = await boardWithConsumer({ httpMode });
      board.clearFrames();
      for (const serviceId of [randomUUID(), board.service.id.toUpperCase(), ` ${board.service.id}`, ""]) {
        assert.deepEqual(await post(board, ...real(board, "Echo", {}, { body: { service_id: serviceId } })), FORBIDDEN, serviceId);
      }
      const missing: Array<Record<string, unknown>> = [
        { service_id: undefined },
        { service_id: null },
        { service_id: 7 },
        { action: undefined },
        { action: 7 },
        { action: null },
      ];
      for (const body of missing) {
        assert.deepEqual(await post(board, ...real(board, "Echo", {}, { body })), MISSING, JSON.stringify(body));
      }
      // With the token, a dev-shaped body lacks its service_id: 400.
      assert.deepEqual(await post(board, { action: "Echo", fields: {} }, { authorization: `Bearer ${board.accountToken}` }), MISSING);
      // The token is judged first: without it, a body without service_id is 401, not 400.
      assert.deepEqual(await post(board, { action: "Echo" }, { authorization: "Bearer wrong" }), INVALID_TOKEN);
      assert.equal(requestsSent(board), 0, "no request went to the consumer");
    });
  }

  it("accountToken is an option; by default each board makes up its own", async () => {
    const given = await startBoard({ accountToken: "dev-account-token" });
    assert.equal(given.accountToken, "dev-account-token");
    assert.deepEqual(await post(given, ...real(given, "Echo", {})), { status: 422, body: NO_CONSUMERS });
    const [a, b] = [await startBoard(), await startBoard()];
    assert.match(a.accountToken, /^[0-9a-f]{48}$/);
    assert.notEqual(a.accountToken, b.accountToken);
    assert.notEqual(a.accountToken, a.token);
    assert.deepEqual(await post(a, ...real(a, "Echo", {}, { token: b.accountToken })), INVALID_TOKEN);
  });

  it("the printed curl example calls the board in the real shape", async () => {
    // A consumer answering plain payloads (MESSAGE_FORMAT=text): the board's mapping alone.
    const board = await boardWithConsumer({ httpMode: "vera" }, TEXT_FORMAT);
    const example = board.curlExample({ action: "Echo", fields: { text: "hi" } });
    assert.ok(example.startsWith(`curl -s ${board.url}/ `), example);
    assert.ok(example.includes(`-H 'authorization: Bearer ${board.accountToken}'`));
    assert.ok(example.includes("-H 'content-type: application/json'"));
    const body = JSON.parse(/-d '([^']+)'/.exec(example)![1]!) as Record<string, unknown>;
    assert.deepEqual(body, { service_id: board.service.id, action: "Echo", fields: { text: "hi" } });
    const answer = await post(board, body, { authorization: `Bearer ${board.accountToken}` });
    assert.deepEqual(answer, { status: 200, body: { status: "success", message: "Echoed" } });
  });
});

describe("the plugboard's own answers and the odd payloads", () => {
  for (const httpMode of ["full", "vera"] as const) {
    it(`${httpMode}: 422 with no consumer joined, in either shape`, async () => {
      const board = await startBoard({ httpMode });
      assert.deepEqual(await post(board, { action: "Echo", fields: {} }), { status: 422, body: NO_CONSUMERS });
      assert.deepEqual(await post(board, ...real(board, "Echo", {})), { status: 422, body: NO_CONSUMERS });
    });

    it(`${httpMode}: 408 after the request timeout, in either shape`, async () => {
      const board = await boardWithConsumer({ httpMode, requestTimeoutMs: 100 });
      assert.deepEqual(await post(board, { action: "Slow", fields: { ms: 1_000 } }), { status: 408, body: TIMED_OUT });
      assert.deepEqual(await post(board, ...real(board, "Slow", { ms: 1_000 })), { status: 408, body: TIMED_OUT });
    });
  }

  it("hand-made payloads: vera answers 200/400/502 with {status, message}; full relays them as before", async () => {
    const vera = await boardWithRawConsumer({ httpMode: "vera" });
    const full = await boardWithRawConsumer();
    const cases: Array<[unknown, Answer, Answer]> = [
      [{ status: "success", status_code: 201, message: "Created", fields: { id: 1 } }, { status: 200, body: { status: "success", message: "Created" } }, { status: 201, body: null }],
      [{ status: "error", status_code: 404, message: "Not here", fields: null }, { status: 400, body: error("Not here") }, { status: 404, body: null }],
      [{ status: "error", message: { text: "nested", status_code: 409 } }, { status: 400, body: error({ text: "nested", status_code: 409 }) }, { status: 400, body: null }],
      [{ status: "success", status_code: 200, fields: { x: 1 } }, BAD_ANSWER, { status: 200, body: null }],
      [{ message: "no status", status_code: 200 }, BAD_ANSWER, { status: 200, body: null }],
      [{ message: "no status" }, BAD_ANSWER, { status: 502, body: null }],
      ["just text", BAD_ANSWER, { status: 502, body: null }],
    ];
    for (const [reply, veraExpected, fullExpected] of cases) {
      assert.deepEqual(await post(vera, ...real(vera, "Reply", { reply })), veraExpected, `vera, real shape: ${JSON.stringify(reply)}`);
      assert.deepEqual(await post(vera, { action: "Reply", fields: { reply } }), veraExpected, `vera, dev shape: ${JSON.stringify(reply)}`);
      // full: the payload itself, whatever it is.
      assert.deepEqual(await post(full, ...real(full, "Reply", { reply })), { status: fullExpected.status, body: reply }, `full: ${JSON.stringify(reply)}`);
    }
  });

  it("POST /explore (the explorer's call) answers in both modes at once, with the board's mode as the status", async () => {
    for (const httpMode of ["full", "vera"] as const) {
      const board = await boardWithRawConsumer({ httpMode });
      const reply = { status: "success", status_code: 201, message: "Created", fields: { id: 1 } };
      const answer = await post(board, { action: "Reply", fields: { reply } }, {}, EXPLORE_PATH);
      assert.deepEqual(answer, {
        status: httpMode === "full" ? 201 : 200,
        body: {
          mode: httpMode,
          full: { status: 201, text: "Created", body: reply },
          vera: { status: 200, text: "OK", body: { status: "success", message: "Created" } },
        },
      });
      // The real shape is judged there too, and GET is not served.
      assert.deepEqual(await post(board, ...real(board, "Reply", { reply }, { token: "wrong" }), EXPLORE_PATH), INVALID_TOKEN);
      assert.equal((await fetch(`${board.url}${EXPLORE_PATH}`)).status, 405);
      // The page says which mode the board is in.
      const page = await (await fetch(`${board.url}/`)).text();
      assert.match(page, new RegExp(`HTTP mode <code>${httpMode}</code>`));
      assert.ok(page.includes(board.service.id));
      assert.ok(!page.includes(board.accountToken), "the page does not show the account token");
    }
    const none = await startBoard({ httpMode: "vera" });
    const body = { mode: "vera", full: { status: 422, text: "Unprocessable Entity", body: NO_CONSUMERS }, vera: { status: 422, text: "Unprocessable Entity", body: NO_CONSUMERS } };
    assert.deepEqual(await post(none, { action: "Echo" }, {}, EXPLORE_PATH), { status: 422, body });
  });
});

test("PLUGBOARD_HTTP: full by default, vera accepted, anything else a config error", () => {
  assert.equal(loadConfig({}).plugboard.httpMode, "full");
  assert.equal(loadConfig({ PLUGBOARD_HTTP: "vera" }).plugboard.httpMode, "vera");
  assert.equal(loadConfig({ PLUGBOARD_HTTP: "full" }).plugboard.httpMode, "full");
  for (const bad of ["VERA", "real", ""]) {
    assert.throws(() => loadConfig({ PLUGBOARD_HTTP: bad }), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith("PLUGBOARD_HTTP:")), bad);
  }
});
