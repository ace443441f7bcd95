/**
 * The dev plugboard against docs/protocol.md, its HTTP side: POST / in both shapes, the
 * explorer page's script, and how requests are routed to the consumers.
 * Real sockets on port 0; events are awaited, never slept on.
 */
import { createHash } from "node:crypto";
import { runInNewContext } from "node:vm";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Message } from "../src/plugboard/frames.ts";
import { EVENT, PLUGBOARD_HTTP_MESSAGE } from "../src/plugboard/wire.ts";
import { DevPlugboard } from "../src/devboard/server.ts";
import { ACTIONS, UUID, post, joinedClient, useBoard, withBoard } from "./support/raw-client.ts";

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
      await board.faults.dropSockets();
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

