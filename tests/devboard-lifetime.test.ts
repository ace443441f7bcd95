/**
 * The dev plugboard's fault injection (board.faults), socket lifetime (idle timeouts, a restart on
 * the same port), and the official `phoenix` client joining it.
 * Real sockets on port 0; events are awaited, never slept on.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "phoenix";
import { WebSocket } from "ws";
import { EVENT, PHX, TOPIC, VSN_V2 } from "../src/plugboard/wire.ts";
import { DevPlugboard } from "../src/devboard/server.ts";
import { ACTIONS, FRAME_WAIT_MS, RawClient, joinedClient, useBoard, withBoard } from "./support/raw-client.ts";

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

    assert.equal(board().faults.push(EVENT.tokenDeleted, { token: { id: "t" } }, info.id), 1);
    const pushed = await a.client.next((m) => m.event === EVENT.tokenDeleted);
    assert.deepEqual(pushed.message, { join_ref: a.joinRef, ref: null, topic: TOPIC.service, event: EVENT.tokenDeleted, payload: { token: { id: "t" } } });
    assert.deepEqual(await b.client.drain(), []);

    assert.equal(board().faults.crashChannel(info.id), 1);
    const error = await a.client.next((m) => m.event === PHX.error);
    assert.deepEqual(error.message, { join_ref: a.joinRef, ref: a.joinRef, topic: TOPIC.service, event: PHX.error, payload: {} });
    assert.deepEqual((await b.client.next((m) => m.event === EVENT.numConsumers)).message.payload, { num_consumers: 1 });
    assert.equal(board().faults.crashChannel(), 1, "only b is still joined");
    await b.client.next((m) => m.event === PHX.error);
    assert.equal(board().faults.push(EVENT.tokenDeleted, {}), 0);
    const raw = '[null,"x","service","raw",{"any":"text"}]';
    assert.equal(board().faults.sendRaw(raw, info.id), 1);
    assert.equal((await a.client.next((m) => m.event === "raw")).text, raw);
    assert.throws(() => board().faults.crashChannel("consumer-none"));

    const disconnected = board().waitFor(() => board().consumers().length === 0);
    assert.equal(await board().faults.dropSockets(), 2);
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
    board().faults.setHeartbeatReplies(false);
    const silent = client.nextRef();
    const received = board().waitFor("frame", FRAME_WAIT_MS, (frame) => frame.direction === "in" && frame.text.includes(`"${silent}"`));
    client.send({ topic: TOPIC.phoenix, event: PHX.heartbeat, ref: silent });
    await received;
    board().faults.setHeartbeatReplies(true);
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
        board.faults.crashChannel();
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

