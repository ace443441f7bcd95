/**
 * The dev plugboard against docs/protocol.md: raw `ws` clients speaking V2 and V1, the HTTP side,
 * the test hooks, a restart on the same port, and the official `phoenix` client.
 * Real sockets on port 0; events are awaited, never slept on.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { runInNewContext } from "node:vm";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "phoenix";
import { WebSocket } from "ws";
import { decode, encode, type Message, type Serializer } from "../src/plugboard/frames.ts";
import { EVENT, PHX, PLUGBOARD_HTTP_MESSAGE, SOCKET_PARAM, TOPIC, UNMATCHED_TOPIC_REASON, VSN_V2 } from "../src/plugboard/wire.ts";
import { DevPlugboard, type DevPlugboardOptions } from "../src/devboard/server.ts";
import { httpStatusOf } from "../src/devboard/router.ts";
import { sameJson } from "../src/devboard/handshake.ts";
import { escapeHtml } from "../src/devboard/explorer.ts";

const ACTIONS = {
  Echo: {
    description: "Echoes its fields <b>back</b>",
    fields: {
      name: { type: "string", description: "Who", minLength: 2, maxLength: 10 },
      count: { type: "integer", minimum: 1, default: 3 },
      mood: { type: "string", enum: ["calm", "loud"] },
      loud: { type: "boolean" },
    },
    required: ["name"],
  },
  Login: { description: "Logs in", fields: { password: { type: "string" } }, required: ["password"] },
};
/** The same object with every key order reversed. */
const ACTIONS_REORDERED = {
  Login: { required: ["password"], fields: { password: { type: "string" } }, description: "Logs in" },
  Echo: {
    required: ["name"],
    fields: {
      loud: { type: "boolean" },
      mood: { enum: ["calm", "loud"], type: "string" },
      count: { default: 3, minimum: 1, type: "integer" },
      name: { maxLength: 10, minLength: 2, description: "Who", type: "string" },
    },
    description: "Echoes its fields <b>back</b>",
  },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const FRAME_WAIT_MS = 3_000;

interface ConnectParams {
  token?: string | null;
  actions?: unknown;
  vsn?: string | null;
}

function socketUrl(board: DevPlugboard, params: ConnectParams = {}): string {
  const query = new URLSearchParams();
  const token = params.token === undefined ? board.token : params.token;
  if (token !== null) query.set(SOCKET_PARAM.token, token);
  if (params.actions !== null) query.set(SOCKET_PARAM.actions, JSON.stringify(params.actions ?? ACTIONS));
  const vsn = params.vsn === undefined ? VSN_V2 : params.vsn;
  if (vsn !== null) query.set(SOCKET_PARAM.vsn, vsn);
  return `${board.socketUrl}?${query}`;
}

interface Inbound {
  text: string;
  message: Message;
}

type Matcher = (message: Message) => boolean;

/** A consumer written by hand: every frame is visible, nothing is automatic unless asked. */
class RawClient {
  private readonly inbox: Inbound[] = [];
  private readonly waiters = new Set<{ match: Matcher; deliver: (inbound: Inbound) => void }>();
  private refs = 0;
  private requestHandler: ((payload: Record<string, unknown>, push: Message) => unknown) | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    readonly serializer: Serializer,
  ) {
    ws.on("message", (data) => this.receive(String(data)));
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static async connect(board: DevPlugboard, params: ConnectParams = {}): Promise<RawClient> {
    const ws = new WebSocket(socketUrl(board, params));
    const client = new RawClient(ws, params.vsn === null ? "v1" : "v2");
    await once(ws, "open");
    return client;
  }

  nextRef(): string {
    return String(++this.refs);
  }

  send(message: Partial<Message> & { topic: string; event: string }): void {
    this.ws.send(encode({ join_ref: null, ref: null, payload: {}, ...message }, this.serializer));
  }

  /** The oldest unread frame matching `match`, waiting for it if needed. */
  next(match: Matcher = () => true, timeoutMs = FRAME_WAIT_MS): Promise<Inbound> {
    const index = this.inbox.findIndex((inbound) => match(inbound.message));
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        deliver: (inbound: Inbound) => {
          clearTimeout(timer);
          resolve(inbound);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; unread: ${JSON.stringify(this.inbox.map((i) => i.text))}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Sends a frame and returns the reply to its ref. */
  async call(topic: string, event: string, payload: unknown = {}, joinRef: string | null = null): Promise<Message> {
    const ref = this.nextRef();
    this.send({ join_ref: joinRef, ref, topic, event, payload });
    return (await this.next((m) => m.event === PHX.reply && m.ref === ref)).message;
  }

  /** Joins `service` like phoenix.js (ref == join_ref); returns the reply and the join_ref. */
  async join(topic: string = TOPIC.service): Promise<{ reply: Message; joinRef: string }> {
    const joinRef = this.nextRef();
    this.send({ join_ref: joinRef, ref: joinRef, topic, event: PHX.join, payload: {} });
    const reply = (await this.next((m) => m.event === PHX.reply && m.ref === joinRef)).message;
    return { reply, joinRef };
  }

  /**
   * Every frame received before the answer to a fresh heartbeat. The board handles a socket's
   * frames in order, so whatever it would send for earlier frames arrives before that answer.
   */
  async drain(): Promise<Inbound[]> {
    const ref = this.nextRef();
    this.send({ topic: TOPIC.phoenix, event: PHX.heartbeat, ref });
    await this.next((m) => m.topic === TOPIC.phoenix && m.ref === ref);
    return this.inbox.splice(0);
  }

  /** Answers every `request` push with `answer(payload)` on the frame's response_ref. */
  serve(answer: (payload: Record<string, unknown>, push: Message) => unknown): void {
    this.requestHandler = answer;
  }

  respond(joinRef: string | null, responseRef: string, payload: unknown): void {
    this.send({ join_ref: joinRef, ref: responseRef, topic: TOPIC.service, event: EVENT.response, payload });
  }

  close(): Promise<unknown> {
    this.ws.close();
    return this.closed;
  }

  private receive(text: string): void {
    const decoded = decode(text, this.serializer);
    assert.ok(decoded.ok, `the board sent an undecodable frame: ${text}`);
    const inbound = { text, message: decoded.message };
    if (this.requestHandler && inbound.message.event === EVENT.request) {
      const payload = inbound.message.payload as Record<string, unknown>;
      this.respond(inbound.message.join_ref, String(payload.response_ref), this.requestHandler(payload, inbound.message));
      return;
    }
    for (const waiter of this.waiters) {
      if (!waiter.match(inbound.message)) continue;
      this.waiters.delete(waiter);
      return waiter.deliver(inbound);
    }
    this.inbox.push(inbound);
  }
}

/** Tries to connect and returns the HTTP refusal the board answered with. */
function refusal(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("error", () => undefined);
    ws.on("open", () => {
      ws.close();
      reject(new Error("the board accepted the connection"));
    });
    ws.on("unexpected-response", (req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += String(chunk)));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body });
        req.destroy();
      });
    });
  });
}

async function post(board: DevPlugboard, body: unknown, raw = false): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${board.url}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ? String(body) : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
}

async function joinedClient(board: DevPlugboard, params: ConnectParams = {}): Promise<{ client: RawClient; joinRef: string }> {
  const client = await RawClient.connect(board, params);
  const { joinRef } = await client.join();
  return { client, joinRef };
}

function useBoard(options: DevPlugboardOptions = {}): () => DevPlugboard {
  let board: DevPlugboard | undefined;
  before(async () => {
    board = await DevPlugboard.start(options);
  });
  after(async () => {
    await board?.stop();
  });
  return () => board!;
}

/** Runs `body` against a fresh board, stopped afterwards whatever happens. */
async function withBoard(options: DevPlugboardOptions, body: (board: DevPlugboard) => Promise<void>): Promise<void> {
  const board = await DevPlugboard.start(options);
  try {
    await body(board);
  } finally {
    await board.stop();
  }
}

describe("pure helpers", () => {
  it("maps consumer answers to HTTP statuses like the Vera Plugboard", () => {
    assert.equal(httpStatusOf({ status: "error", status_code: 409 }), 409);
    assert.equal(httpStatusOf({ status: "success", status_code: 201 }), 201);
    assert.equal(httpStatusOf({ status: "success" }), 200);
    assert.equal(httpStatusOf({ status: "error" }), 400);
    assert.equal(httpStatusOf({ status: "weird" }), 400);
    assert.equal(httpStatusOf({ status: "success", status_code: 700 }), 200);
    assert.equal(httpStatusOf({ status: "success", status_code: 150 }), 200, "1xx is no final HTTP status");
    assert.equal(httpStatusOf({ status: "error", status_code: 404.5 }), 400);
    assert.equal(httpStatusOf({ message: "no status" }), 502);
    assert.equal(httpStatusOf("text"), 502);
    assert.equal(httpStatusOf(null), 502);
  });

  it("compares JSON structurally, ignoring key order but not array order", () => {
    assert.ok(sameJson(ACTIONS, ACTIONS_REORDERED));
    assert.ok(!sameJson({ a: [1, 2] }, { a: [2, 1] }));
    assert.ok(!sameJson({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(!sameJson({ a: null }, { a: {} }));
    assert.ok(!sameJson([], {}));
  });

  it("escapes HTML in text and attributes", () => {
    assert.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`), "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  });
});

describe("V2 socket protocol", () => {
  const board = useBoard();

  it("answers a heartbeat echoing its ref with join_ref null", async () => {
    const client = await RawClient.connect(board());
    const reply = await client.call(TOPIC.phoenix, PHX.heartbeat);
    assert.deepEqual(reply, { join_ref: null, ref: reply.ref, topic: TOPIC.phoenix, event: PHX.reply, payload: { status: "ok", response: {} } });
    await client.close();
  });

  it("replies to a join of service with the service, the token metadata and num_consumers", async () => {
    const client = await RawClient.connect(board());
    const { reply, joinRef } = await client.join();
    assert.equal(reply.ref, joinRef);
    assert.equal(reply.join_ref, joinRef);
    assert.equal(reply.topic, TOPIC.service);
    const payload = reply.payload as { status: string; response: Record<string, Record<string, unknown>> };
    assert.equal(payload.status, "ok");
    const { service, token, num_consumers } = payload.response;
    assert.deepEqual(Object.keys(service!).sort(), ["id", "inserted_at", "name", "updated_at"]);
    assert.deepEqual(Object.keys(token!).sort(), ["context", "expires_at", "id", "inserted_at", "service_id"]);
    assert.equal(token!.service_id, service!.id);
    assert.equal(service!.id, board().service.id);
    for (const at of [service!.inserted_at, service!.updated_at, token!.inserted_at, token!.expires_at]) assert.match(String(at), ISO_UTC);
    assert.equal(num_consumers, 1);
    assert.deepEqual(board().consumers().find((c) => c.joined)?.joinRef, joinRef);
    await client.close();
  });

  it("answers an event on a topic that is not joined with an unmatched-topic error", async () => {
    const client = await RawClient.connect(board());
    const reply = await client.call(TOPIC.service, EVENT.response, {}, "9");
    assert.deepEqual(reply.payload, { status: "error", response: { reason: UNMATCHED_TOPIC_REASON } });
    assert.equal(reply.join_ref, null);
    const leave = await client.call(TOPIC.service, PHX.leave);
    assert.deepEqual(leave.payload, { status: "error", response: { reason: UNMATCHED_TOPIC_REASON } });
    await client.close();
  });

  it("refuses a join of any other topic", async () => {
    const client = await RawClient.connect(board());
    const { reply, joinRef } = await client.join("room:lobby");
    assert.equal(reply.ref, joinRef);
    assert.equal(reply.join_ref, null);
    assert.deepEqual(reply.payload, { status: "error", response: { reason: UNMATCHED_TOPIC_REASON } });
    assert.ok(!board().consumers().some((c) => c.joined));
    await client.close();
  });

  it("on a second join replies to the new join first, then closes the old one", async () => {
    const { client, joinRef: first } = await joinedClient(board());
    const second = client.nextRef();
    client.send({ join_ref: second, ref: second, topic: TOPIC.service, event: PHX.join });
    const reply = (await client.next()).message;
    assert.equal(reply.event, PHX.reply);
    assert.equal(reply.ref, second);
    assert.equal(reply.join_ref, second);
    const close = (await client.next()).message;
    assert.deepEqual(close, { join_ref: first, ref: first, topic: TOPIC.service, event: PHX.close, payload: {} });
    assert.equal(board().consumers()[0]?.joinRef, second);
    await client.close();
  });

  it("on phx_leave replies ok, then sends phx_close, and forgets the topic", async () => {
    const { client, joinRef } = await joinedClient(board());
    const ref = client.nextRef();
    const left = board().waitFor("leave");
    client.send({ join_ref: joinRef, ref, topic: TOPIC.service, event: PHX.leave });
    const reply = (await client.next()).message;
    assert.deepEqual(reply, { join_ref: joinRef, ref, topic: TOPIC.service, event: PHX.reply, payload: { status: "ok", response: {} } });
    const close = (await client.next()).message;
    assert.deepEqual(close, { join_ref: joinRef, ref: joinRef, topic: TOPIC.service, event: PHX.close, payload: {} });
    assert.equal((await left).reason, "left");
    const after = await client.call(TOPIC.service, EVENT.response, {}, joinRef);
    assert.deepEqual(after.payload, { status: "error", response: { reason: UNMATCHED_TOPIC_REASON } });
    await client.close();
  });

  it("silently drops a frame with a stale join_ref and accepts a null one", async () => {
    const { client, joinRef: old } = await joinedClient(board());
    const { joinRef: current } = await client.join();
    await client.next((m) => m.event === PHX.close);
    // An event that would crash the channel, sent with the stale join_ref: dropped.
    client.send({ join_ref: old, ref: client.nextRef(), topic: TOPIC.service, event: "bogus" });
    assert.deepEqual(await client.drain(), []);
    assert.equal(board().consumers()[0]?.joined, true);
    // With join_ref null the same event reaches the channel, which crashes.
    client.send({ join_ref: null, ref: client.nextRef(), topic: TOPIC.service, event: "bogus" });
    const error = (await client.next()).message;
    assert.deepEqual(error, { join_ref: current, ref: current, topic: TOPIC.service, event: PHX.error, payload: {} });
    await client.close();
  });

  it("crashes the channel on any client event other than response", async () => {
    const observer = await joinedClient(board());
    const { client, joinRef } = await joinedClient(board());
    await observer.client.next((m) => m.event === EVENT.numConsumers);
    const left = board().waitFor("leave", FRAME_WAIT_MS, (event) => event.reason === "crashed");
    client.send({ join_ref: joinRef, ref: client.nextRef(), topic: TOPIC.service, event: "hello", payload: { a: 1 } });
    const error = (await client.next()).message;
    assert.deepEqual(error, { join_ref: joinRef, ref: joinRef, topic: TOPIC.service, event: PHX.error, payload: {} });
    await left;
    const count = await observer.client.next((m) => m.event === EVENT.numConsumers);
    assert.deepEqual(count.message.payload, { num_consumers: 1 });
    assert.equal(count.message.join_ref, observer.joinRef);
    assert.equal(count.message.ref, null);
    const reply = await client.call(TOPIC.service, EVENT.response, {}, null);
    assert.deepEqual(reply.payload, { status: "error", response: { reason: UNMATCHED_TOPIC_REASON } });
    await Promise.all([client.close(), observer.client.close()]);
  });

  it("never replies to a response event", async () => {
    const { client, joinRef } = await joinedClient(board());
    client.respond(joinRef, "00000000-0000-4000-8000-000000000000", { status: "success" });
    assert.deepEqual(await client.drain(), []);
    await client.close();
  });

  for (const [label, frame] of [
    ["text that is not JSON", "{nope"],
    ["a V1 object on a V2 socket", JSON.stringify({ topic: "phoenix", event: "heartbeat", payload: {}, ref: "1" })],
    ["an array with a numeric ref", JSON.stringify([null, 1, "phoenix", "heartbeat", {}])],
    ["a binary frame", Buffer.from([1, 2, 3])],
  ] as const) {
    it(`closes the connection with 1011 on ${label}`, async () => {
      const client = await RawClient.connect(board());
      client.ws.send(frame);
      const { code } = await client.closed;
      assert.equal(code, 1011);
    });
  }

  it("pushes num_consumers to the other joined consumers on join and on disconnect", async () => {
    const first = await joinedClient(board());
    const second = await joinedClient(board());
    const onJoin = await first.client.next((m) => m.event === EVENT.numConsumers);
    assert.deepEqual(onJoin.message.payload, { num_consumers: 2 });
    assert.equal(onJoin.message.join_ref, first.joinRef);
    assert.deepEqual(await second.client.drain(), [], "the joiner gets the count in its reply, not as a push");
    await second.client.close();
    const onLeave = await first.client.next((m) => m.event === EVENT.numConsumers);
    assert.deepEqual(onLeave.message.payload, { num_consumers: 1 });
    await first.client.close();
  });
});

describe("V1 socket protocol", () => {
  const board = useBoard();

  it("speaks JSON objects and never sends join_ref", async () => {
    const client = await RawClient.connect(board(), { vsn: null });
    assert.equal(board().consumers()[0]?.serializer, "v1");
    assert.equal(board().consumers()[0]?.vsn, null);
    const heartbeat = await client.call(TOPIC.phoenix, PHX.heartbeat);
    assert.deepEqual(heartbeat.payload, { status: "ok", response: {} });
    const joinRef = client.nextRef();
    client.send({ join_ref: joinRef, ref: joinRef, topic: TOPIC.service, event: PHX.join });
    const reply = await client.next();
    assert.equal(reply.message.ref, joinRef);
    assert.equal((reply.message.payload as { status: string }).status, "ok");
    board().push(EVENT.serviceUpdated, { service: { id: "x" } });
    const push = await client.next();
    assert.deepEqual(JSON.parse(push.text), { topic: TOPIC.service, event: EVENT.serviceUpdated, payload: { service: { id: "x" } }, ref: null });
    board().crashChannel();
    const error = await client.next();
    assert.deepEqual(JSON.parse(error.text), { topic: TOPIC.service, event: PHX.error, payload: {}, ref: joinRef });
    for (const frame of [heartbeat, reply.message]) assert.equal(frame.join_ref, null);
    await client.close();
  });

  it("closes with 1011 on a V2 array sent to a V1 socket", async () => {
    const client = await RawClient.connect(board(), { vsn: null });
    client.ws.send(JSON.stringify([null, "1", "phoenix", "heartbeat", {}]));
    assert.equal((await client.closed).code, 1011);
  });
});

describe("connect refusals", () => {
  const board = useBoard();

  const cases: Array<[string, ConnectParams]> = [
    ["a bad token", { token: "wrong" }],
    ["a missing token", { token: null }],
    ["missing actions", { actions: null }],
    ["actions that are a JSON array", { actions: [1] }],
    ["vsn 3.0.0", { vsn: "3.0.0" }],
    ["vsn 2.1.0", { vsn: "2.1.0" }],
    ["vsn 1.0.0", { vsn: "1.0.0" }],
  ];
  for (const [label, params] of cases) {
    it(`answers ${label} with a bare 403`, async () => {
      const refused = board().waitFor("refused");
      assert.deepEqual(await refusal(socketUrl(board(), params)), { status: 403, body: "" });
      assert.ok((await refused).reason.length > 0);
    });
  }

  it("refuses actions that are not JSON text", async () => {
    const url = `${board().socketUrl}?token=${board().token}&actions=%7Bnope&vsn=${VSN_V2}`;
    assert.deepEqual(await refusal(url), { status: 403, body: "" });
  });

  it("refuses different actions while a consumer is joined, accepts the same in another key order", async () => {
    const { client } = await joinedClient(board());
    assert.deepEqual(await refusal(socketUrl(board(), { actions: { Other: {} } })), { status: 403, body: "" });
    const twin = await RawClient.connect(board(), { actions: ACTIONS_REORDERED });
    const { reply } = await twin.join();
    assert.equal((reply.payload as { response: { num_consumers: number } }).response.num_consumers, 2);
    await Promise.all([client.close(), twin.close()]);
  });

  it("accepts any actions once nobody is joined", async () => {
    const client = await RawClient.connect(board(), { actions: { Other: {} } });
    await client.close();
  });

  it("refuses the join of a consumer whose actions differ from the ones joined meanwhile", async () => {
    const early = await RawClient.connect(board(), { actions: { Other: {} } });
    const { client } = await joinedClient(board());
    const { reply } = await early.join();
    assert.equal((reply.payload as { status: string }).status, "error");
    await Promise.all([client.close(), early.close()]);
  });

  it("answers 400 to a plain request on the socket path and 404 to an upgrade elsewhere", async () => {
    const plain = await fetch(`${board().url}/websocket`);
    assert.equal(plain.status, 400);
    assert.equal(await plain.text(), "");
    const elsewhere = await refusal(`${board().endpoint}/socket?token=${board().token}`);
    assert.equal(elsewhere.status, 404);
  });
});

describe("HTTP side", () => {
  const board = useBoard();

  it("answers 422 when no consumer is joined", async () => {
    assert.deepEqual(await post(board(), { action: "Echo", fields: {} }), {
      status: 422,
      body: { status: "error", message: PLUGBOARD_HTTP_MESSAGE.noConsumers },
    });
  });

  it("pushes a request, relays the answer verbatim, with the status the answer implies", async () => {
    const { client, joinRef } = await joinedClient(board());
    const pushes: Message[] = [];
    client.serve((payload, push) => {
      pushes.push(push);
      return (payload.fields as { reply: unknown }).reply;
    });
    const cases: Array<[unknown, number]> = [
      [{ status: "success", status_code: 201, message: "Created", fields: { id: 1 } }, 201],
      [{ status: "error", status_code: 409, message: "User already exists", fields: null }, 409],
      [{ status: "success", message: "ok" }, 200],
      [{ status: "error", message: "bad" }, 400],
      [{ message: "no status" }, 502],
    ];
    for (const [reply, status] of cases) {
      assert.deepEqual(await post(board(), { action: "Echo", fields: { reply } }), { status, body: reply });
    }
    const push = pushes[0]!;
    assert.equal(push.ref, null);
    assert.equal(push.join_ref, joinRef);
    const payload = push.payload as { action: string; fields: unknown; response_ref: string };
    assert.equal(payload.action, "Echo");
    assert.match(payload.response_ref, UUID);
    assert.equal(new Set(pushes.map((p) => (p.payload as { response_ref: string }).response_ref)).size, cases.length);
    await client.close();
  });

  it("forwards any JSON as fields, and null when fields is absent", async () => {
    const { client } = await joinedClient(board());
    const seen: unknown[] = [];
    client.serve((payload) => {
      seen.push(payload.fields);
      return { status: "success" };
    });
    await post(board(), { action: "Echo", fields: [1, "two"] });
    await post(board(), { action: "Echo" });
    assert.deepEqual(seen, [[1, "two"], null]);
    await client.close();
  });

  it("ignores a repeated answer and an answer for an unknown ref", async () => {
    const { client, joinRef } = await joinedClient(board());
    const pending = board().request("Echo", {});
    const push = await client.next((m) => m.event === EVENT.request);
    const ref = (push.message.payload as { response_ref: string }).response_ref;
    client.respond(joinRef, "not-a-waiting-ref", { status: "error", status_code: 500 });
    client.respond(joinRef, ref, { status: "success", status_code: 200, message: "first" });
    client.respond(joinRef, ref, { status: "error", status_code: 500, message: "second" });
    assert.deepEqual(await pending, { status: 200, body: { status: "success", status_code: 200, message: "first" } });
    assert.deepEqual(await client.drain(), []);
    await client.close();
  });

  it("answers 400 to a body that is not JSON or has no string action", async () => {
    for (const body of ["{nope", "[]", JSON.stringify({ fields: {} }), JSON.stringify({ action: 7 }), "null"]) {
      const answer = await post(board(), body, true);
      assert.equal(answer.status, 400, body);
      assert.equal((answer.body as { status: string }).status, "error");
    }
  });

  it("answers 413 to a body above 1 MiB", async () => {
    const answer = await post(board(), { action: "Echo", fields: { blob: "x".repeat(1024 * 1024) } });
    assert.equal(answer.status, 413);
  });

  it("serves the published actions, and 404 elsewhere", async () => {
    const none = await fetch(`${board().url}/actions`);
    assert.equal(await none.json(), null);
    const { client } = await joinedClient(board());
    const actions = await fetch(`${board().url}/actions`);
    assert.deepEqual(await actions.json(), ACTIONS);
    assert.deepEqual(board().publishedActions(), ACTIONS);
    assert.equal((await fetch(`${board().url}/nothing`)).status, 404);
    await client.close();
  });

  it("serves an explorer page typed from the schemas, with everything escaped", async () => {
    const hostile = { "<img src=x>": { description: `"><script>alert(1)</script>`, fields: { [`a"b`]: { type: "string", default: "</textarea>" } } } };
    await withBoard({}, async (other) => {
      const empty = await (await fetch(`${other.url}/`)).text();
      assert.match(empty, /No consumer has joined yet/);
      const { client } = await joinedClient(other, { actions: hostile });
      const response = await fetch(`${other.url}/`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /text\/html/);
      assert.match(response.headers.get("content-security-policy") ?? "", /script-src 'sha256-/);
      const html = await response.text();
      assert.ok(!html.includes("<script>alert(1)"), "description is escaped");
      assert.ok(!html.includes("<img src=x>"), "action name is escaped");
      assert.ok(html.includes("&lt;img src=x&gt;"));
      assert.ok(html.includes('data-field="a&quot;b"'));
      assert.equal(html.match(/<script>/g)?.length, 1, "only the page's own script");
      await client.close();
    });
    const { client } = await joinedClient(board());
    const html = await (await fetch(`${board().url}/`)).text();
    assert.ok(html.includes("Echoes its fields &lt;b&gt;back&lt;/b&gt;"));
    assert.match(html, /<form data-action="Echo">/);
    assert.match(html, /type="text"[^>]*data-field="name"[^>]*required[^>]*minlength="2" maxlength="10"/);
    assert.match(html, /type="number" step="1"[^>]*data-field="count"[^>]*min="1" value="3"/);
    assert.match(html, /<select [^>]*data-field="mood" data-kind="enum">.*<option value="&quot;calm&quot;">calm<\/option>/);
    assert.match(html, /<select [^>]*data-field="loud"[^>]*>.*<option value="true">true<\/option>/);
    assert.match(html, /type="password"[^>]*data-field="password"/);
    assert.match(html, /class="required"/);
    await client.close();
  });
});

describe("explorer page script", () => {
  const board = useBoard();

  it("is the only script, allowed by its hash, and posts typed fields", async () => {
    const { client } = await joinedClient(board());
    client.serve((payload) => ({ status: "success", status_code: 201, message: "made", fields: payload.fields }));
    const response = await fetch(`${board().url}/`);
    const policy = response.headers.get("content-security-policy") ?? "";
    const html = await response.text();
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*)<\/style>/.exec(html)![1]!;
    for (const inline of [script, style]) assert.ok(policy.includes(`'sha256-${createHash("sha256").update(inline).digest("base64")}'`));

    // A minimal stand-in for the DOM: one form with one input of each kind.
    const element = () => ({ dataset: {} as Record<string, string>, textContent: "" });
    const parts: Record<string, ReturnType<typeof element>> = {
      ".status": element(),
      ".full-status": element(),
      "pre.payload": element(),
      ".vera-status": element(),
      "pre.vera": element(),
    };
    const [status, body] = [parts[".status"]!, parts["pre.payload"]!];
    const answer = { hidden: true, querySelector: (selector: string) => parts[selector] ?? assert.fail(`no ${selector} in the answer`) };
    const input = (field: string, kind: string, value: string) => ({ dataset: { field, kind }, value });
    const inputs = [
      input("name", "string", "bo"),
      input("count", "integer", "3"),
      input("mood", "enum", '"calm"'),
      input("loud", "enum", "false"),
      input("skipped", "string", ""),
      input("extra", "json", '{"k":[1]}'),
    ];
    let submit: ((event: unknown) => Promise<void>) | undefined;
    const form = {
      dataset: { action: "Echo" },
      parentElement: { querySelector: () => answer },
      querySelectorAll: () => inputs,
      addEventListener: (_: string, listener: typeof submit) => (submit = listener),
    };
    const boardFetch = (path: string, init: RequestInit) => fetch(new URL(path, board().url), init);
    runInNewContext(script, { document: { querySelectorAll: () => [form] }, fetch: boardFetch, performance, JSON, Number, Math, String, Error });
    await submit!({ preventDefault: () => undefined, currentTarget: form });
    assert.match(status.textContent, /^HTTP 201 Created in \d+ ms$/);
    assert.equal(status.dataset.ok, "true");
    const shown = JSON.parse(body.textContent) as { fields: unknown };
    assert.deepEqual(shown.fields, { name: "bo", count: 3, mood: "calm", loud: false, extra: { k: [1] } });
    // Beside the payload, what a caller of the Vera Plugboard gets for it.
    assert.equal(parts[".full-status"]!.textContent, "HTTP 201 Created");
    assert.equal(parts[".vera-status"]!.textContent, "HTTP 200 OK");
    assert.deepEqual(JSON.parse(parts["pre.vera"]!.textContent), { status: "success", message: "made" });

    inputs.push(input("broken", "json", "{"));
    await submit!({ preventDefault: () => undefined, currentTarget: form });
    assert.equal(status.textContent, "Not sent: broken is not valid JSON");
    await client.close();
  });
});

describe("request routing", () => {
  it("answers 408 after the request timeout", async () => {
    await withBoard({ requestTimeoutMs: 100 }, async (board) => {
      const { client } = await joinedClient(board);
      const answer = await post(board, { action: "Echo", fields: {} });
      assert.deepEqual(answer, { status: 408, body: { status: "error", message: PLUGBOARD_HTTP_MESSAGE.timedOut } });
      const late = await client.next((m) => m.event === EVENT.request);
      client.respond(null, (late.message.payload as { response_ref: string }).response_ref, { status: "success" });
      assert.deepEqual(await client.drain(), [], "a late answer is ignored");
      await client.close();
    });
  });

  it("round-robins over the joined consumers", async () => {
    await withBoard({}, async (board) => {
      const a = await joinedClient(board);
      const b = await joinedClient(board);
      a.client.serve(() => ({ status: "success", message: "a" }));
      b.client.serve(() => ({ status: "success", message: "b" }));
      const answers: unknown[] = [];
      for (let i = 0; i < 4; i++) answers.push(((await board.request("Echo", {})).body as { message: string }).message);
      assert.deepEqual(answers, ["a", "b", "a", "b"]);
      await Promise.all([a.client.close(), b.client.close()]);
    });
  });

  it("delivers an answer sent after the consumer reconnected and rejoined", async () => {
    await withBoard({}, async (board) => {
      const first = await joinedClient(board);
      const pending = board.request("Echo", { n: 1 });
      const push = await first.client.next((m) => m.event === EVENT.request);
      const ref = (push.message.payload as { response_ref: string }).response_ref;
      await board.dropSockets();
      const second = await joinedClient(board);
      second.client.respond(second.joinRef, ref, { status: "success", status_code: 200, message: "late" });
      assert.deepEqual(await pending, { status: 200, body: { status: "success", status_code: 200, message: "late" } });
      await second.client.close();
    });
  });

  it("answers waiting callers with 503 when the board stops", async () => {
    const board = await DevPlugboard.start();
    const { client } = await joinedClient(board);
    const pending = post(board, { action: "Echo", fields: {} });
    await client.next((m) => m.event === EVENT.request);
    await board.stop();
    assert.equal((await pending).status, 503);
    assert.equal((await client.closed).code, 1001);
  });
});

describe("test hooks", () => {
  const board = useBoard();

  it("lists consumers, crashes channels, pushes events and drops sockets", async () => {
    const connected = board().waitFor("connect");
    const a = await joinedClient(board());
    const info = await connected;
    assert.equal(info.serializer, "v2");
    assert.equal(info.vsn, VSN_V2);
    assert.equal(info.params.token, board().token);
    const b = await joinedClient(board());
    await a.client.next((m) => m.event === EVENT.numConsumers);
    await board().waitFor(() => board().consumers().filter((c) => c.joined).length === 2);

    assert.equal(board().push(EVENT.tokenDeleted, { token: { id: "t" } }, info.id), 1);
    const pushed = await a.client.next((m) => m.event === EVENT.tokenDeleted);
    assert.deepEqual(pushed.message, { join_ref: a.joinRef, ref: null, topic: TOPIC.service, event: EVENT.tokenDeleted, payload: { token: { id: "t" } } });
    assert.deepEqual(await b.client.drain(), []);

    assert.equal(board().crashChannel(info.id), 1);
    const error = await a.client.next((m) => m.event === PHX.error);
    assert.deepEqual(error.message, { join_ref: a.joinRef, ref: a.joinRef, topic: TOPIC.service, event: PHX.error, payload: {} });
    assert.deepEqual((await b.client.next((m) => m.event === EVENT.numConsumers)).message.payload, { num_consumers: 1 });
    assert.equal(board().crashChannel(), 1, "only b is still joined");
    await b.client.next((m) => m.event === PHX.error);
    assert.equal(board().push(EVENT.tokenDeleted, {}), 0);
    const raw = '[null,"x","service","raw",{"any":"text"}]';
    assert.equal(board().sendRaw(raw, info.id), 1);
    assert.equal((await a.client.next((m) => m.event === "raw")).text, raw);
    assert.throws(() => board().crashChannel("consumer-none"));

    const disconnected = board().waitFor(() => board().consumers().length === 0);
    assert.equal(await board().dropSockets(), 2);
    await disconnected;
    assert.equal((await a.client.closed).code, 1006);
    assert.equal((await b.client.closed).code, 1006);
  });

  it("logs frames in both directions and clears them", async () => {
    board().clearFrames();
    const client = await RawClient.connect(board());
    const seen = board().waitFor("frame", FRAME_WAIT_MS, (frame) => frame.direction === "out");
    await client.call(TOPIC.phoenix, PHX.heartbeat);
    await seen;
    const frames = board().frames.filter((f) => f.consumerId === board().consumers()[0]?.id);
    assert.deepEqual(frames.map((f) => f.direction), ["in", "out"]);
    assert.match(frames[0]!.text, /heartbeat/);
    board().clearFrames();
    assert.equal(board().frames.length, 0);
    await client.close();
  });

  it("stops answering heartbeats when told to", async () => {
    const client = await RawClient.connect(board());
    board().setHeartbeatReplies(false);
    const silent = client.nextRef();
    const received = board().waitFor("frame", FRAME_WAIT_MS, (frame) => frame.direction === "in" && frame.text.includes(`"${silent}"`));
    client.send({ topic: TOPIC.phoenix, event: PHX.heartbeat, ref: silent });
    await received;
    board().setHeartbeatReplies(true);
    const reply = await client.call(TOPIC.phoenix, PHX.heartbeat);
    assert.notEqual(reply.ref, silent);
    assert.deepEqual(await client.drain(), []);
    await client.close();
  });
});

describe("socket lifetime", () => {
  it("closes a socket idle for idleTimeoutMs, and heartbeats keep one open", async () => {
    await withBoard({ idleTimeoutMs: 300 }, async (board) => {
      const idle = await RawClient.connect(board);
      const busy = await RawClient.connect(board);
      const disconnect = board.waitFor("disconnect");
      const beating = setInterval(() => busy.send({ topic: TOPIC.phoenix, event: PHX.heartbeat, ref: busy.nextRef() }), 50);
      try {
        assert.equal((await idle.closed).code, 1000);
        await disconnect;
        assert.equal(busy.ws.readyState, WebSocket.OPEN);
      } finally {
        clearInterval(beating);
      }
      await busy.close();
    });
  });

  it("starts again on the same port right after stop", async () => {
    const first = await DevPlugboard.start();
    const port = first.port;
    const { client } = await joinedClient(first);
    await first.stop();
    await client.closed;
    const second = await DevPlugboard.start({ port });
    try {
      assert.equal(second.port, port);
      const again = await joinedClient(second);
      await again.client.close();
    } finally {
      await second.stop();
    }
  });

  it("exposes its addresses", async () => {
    await withBoard({ token: "fixed" }, async (board) => {
      assert.equal(board.token, "fixed");
      assert.equal(board.host, "127.0.0.1");
      assert.ok(board.port > 0);
      assert.equal(board.url, `http://127.0.0.1:${board.port}`);
      assert.equal(board.socketUrl, `ws://127.0.0.1:${board.port}/websocket`);
      assert.equal(board.endpoint, `ws://127.0.0.1:${board.port}`);
    });
  });
});

describe("the official phoenix client", () => {
  it("connects, joins service, receives a request and answers it with socket.push", async () => {
    await withBoard({}, async (board) => {
      const socket = new Socket(board.endpoint, {
        transport: WebSocket as unknown as new (endpoint: string) => object,
        params: { token: board.token, actions: JSON.stringify(ACTIONS) },
        reconnectAfterMs: () => 10,
        rejoinAfterMs: () => 10,
      });
      socket.connect();
      const channel = socket.channel(TOPIC.service, {});
      const joinRef = () => (channel as unknown as { joinRef(): string }).joinRef();
      channel.on(EVENT.request, (payload: { action: string; fields: unknown; response_ref: string }) => {
        socket.push({
          topic: TOPIC.service,
          event: EVENT.response,
          payload: { status: "success", status_code: 200, message: `ran ${payload.action}`, fields: payload.fields },
          ref: payload.response_ref,
          join_ref: joinRef(),
        });
      });
      try {
        const reply = await new Promise<{ num_consumers: number }>((resolve, reject) => {
          channel.join().receive("ok", resolve).receive("error", reject).receive("timeout", () => reject(new Error("join timeout")));
        });
        assert.equal(reply.num_consumers, 1);
        assert.equal(board.consumers()[0]?.serializer, "v2");
        const answer = await board.request("Echo", { x: 1 });
        assert.deepEqual(answer, { status: 200, body: { status: "success", status_code: 200, message: "ran Echo", fields: { x: 1 } } });

        // After a crash the client rejoins by itself and keeps answering.
        board.crashChannel();
        await board.waitFor("join");
        assert.equal((await board.request("Echo", { x: 2 })).status, 200);
      } finally {
        const closed = board.waitFor("disconnect");
        socket.disconnect();
        await closed;
      }
    });
  });
});
