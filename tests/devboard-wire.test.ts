/**
 * The dev plugboard against docs/protocol.md, the socket side: pure helpers, raw `ws` clients
 * speaking V2 and V1, and the connect refusals.
 * Real sockets on port 0; events are awaited, never slept on.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EVENT, PHX, TOPIC, UNMATCHED_TOPIC_REASON, VSN_V2 } from "../src/plugboard/wire.ts";
import { httpStatusOf } from "../src/devboard/router.ts";
import { sameJson } from "../src/devboard/handshake.ts";
import { escapeHtml } from "../src/devboard/explorer.ts";
import { ACTIONS, ACTIONS_REORDERED, ISO_UTC, FRAME_WAIT_MS, type ConnectParams, socketUrl, RawClient, refusal, joinedClient, useBoard } from "./support/raw-client.ts";

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
    board().faults.push(EVENT.serviceUpdated, { service: { id: "x" } });
    const push = await client.next();
    assert.deepEqual(JSON.parse(push.text), { topic: TOPIC.service, event: EVENT.serviceUpdated, payload: { service: { id: "x" } }, ref: null });
    board().faults.crashChannel();
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

