/**
 * The dev plugboard's HTTP side against cross-site callers, over real HTTP on port 0: any page a
 * developer visits can POST to 127.0.0.1 (text/plain, forms) and, through DNS rebinding, read
 * the answers. Requests are sent with node:http and explicit headers (fetch cannot set Host).
 * Also: stalled uploads are cut by short timeouts, and an oversized consumer frame is closed with 1009.
 */
import { once } from "node:events";
import { request, type OutgoingHttpHeaders } from "node:http";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { DevPlugboard } from "../src/devboard/server.ts";
import { AllowedHosts } from "../src/devboard/allowed-hosts.ts";
import { EVENT, PLUGBOARD_HTTP_MESSAGE, SOCKET_PARAM, VSN_V2 } from "../src/plugboard/wire.ts";
import { boardKit } from "./support/boards.ts";

const { startBoard, boardWithConsumer } = boardKit();

interface Sent {
  method?: "GET" | "POST";
  path?: string;
  /** Sent exactly; `host: null` sends no Host header at all. */
  headers?: Record<string, string | null>;
  body?: string;
}

const JSON_TYPE = { "content-type": "application/json" };
const ECHO = JSON.stringify({ action: "Echo", fields: { text: "hi" } });
const NO_CONSUMERS = { status: "error", message: PLUGBOARD_HTTP_MESSAGE.noConsumers };
const HOST_REFUSED = { status: "error", message: "Host not allowed" };
const ORIGIN_REFUSED = { status: "error", message: "Origin not allowed" };
const NOT_JSON = { status: "error", message: "Content-Type must be application/json" };

/** One request with exactly these headers; the Host defaults to the board's own 127.0.0.1:<port>. */
function send(board: DevPlugboard, sent: Sent = {}): Promise<{ status: number; body: unknown }> {
  const { host = `127.0.0.1:${board.port}`, ...rest } = sent.headers ?? {};
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(rest)) if (value !== null) headers[name] = value;
  if (host !== null) headers.host = host;
  if (sent.body !== undefined) headers["content-length"] = Buffer.byteLength(sent.body);
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: board.port, method: sent.method ?? "POST", path: sent.path ?? "/", headers, setHost: false, agent: false });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: res.headers["content-type"]?.startsWith("application/json") ? JSON.parse(text) : text }));
    });
    req.end(sent.body);
  });
}

/** The requests the board sent its consumers. */
function requestsSent(board: DevPlugboard): string[] {
  return board.frames.filter((f) => f.direction === "out" && f.text.includes(`"${EVENT.request}"`)).map((f) => f.text);
}

test("a text/plain POST (what any page may send cross-site) is refused with 415 and never reaches the consumer", async () => {
  const board = await boardWithConsumer();
  board.clearFrames();
  for (const contentType of ["text/plain", "text/plain;charset=UTF-8", null]) {
    const answer = await send(board, { headers: { "content-type": contentType }, body: ECHO });
    assert.deepEqual(answer, { status: 415, body: NOT_JSON }, `content-type ${contentType}`);
  }
  assert.deepEqual(requestsSent(board), [], "no request event went to the consumer");
  // The same call as JSON does reach it: the consumer was there all along.
  assert.equal((await send(board, { headers: JSON_TYPE, body: ECHO })).status, 200);
  assert.equal(requestsSent(board).length, 1);
});

test("a form-encoded or multipart POST is refused with 415; JSON with parameters or in capitals is accepted", async () => {
  const board = await startBoard();
  const form = await send(board, { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "action=Echo" });
  assert.deepEqual(form, { status: 415, body: NOT_JSON });
  const multipart = await send(board, { headers: { "content-type": "multipart/form-data; boundary=x" }, body: `--x\r\n\r\n${ECHO}\r\n--x--` });
  assert.deepEqual(multipart, { status: 415, body: NOT_JSON });
  const lookalike = await send(board, { headers: { "content-type": "application/jsonp" }, body: ECHO });
  assert.deepEqual(lookalike, { status: 415, body: NOT_JSON });
  for (const contentType of ["application/json; charset=utf-8", "Application/JSON"]) {
    // No consumer is joined: 422 is the board's answer once a call got through.
    assert.deepEqual(await send(board, { headers: { "content-type": contentType }, body: ECHO }), { status: 422, body: NO_CONSUMERS }, contentType);
  }
});

test("a JSON POST from a foreign Origin is refused with 403", async () => {
  const board = await startBoard();
  const origins = ["http://evil.example", "null", `https://127.0.0.1:${board.port}`, `http://127.0.0.1:${board.port}/x`, "http://localhost:1"];
  for (const origin of origins) {
    const answer = await send(board, { headers: { ...JSON_TYPE, origin }, body: ECHO });
    assert.deepEqual(answer, { status: 403, body: ORIGIN_REFUSED }, `Origin ${origin}`);
  }
});

test("a rebinding Host (or none) is refused with 403, on POST and on GET", async () => {
  const board = await startBoard();
  const hosts = [`evil.example:${board.port}`, "evil.example", `127.0.0.1.evil.example:${board.port}`, `evil.example@127.0.0.1:${board.port}`, null];
  for (const host of hosts) {
    const post = await send(board, { headers: { ...JSON_TYPE, host }, body: ECHO });
    assert.deepEqual(post, { status: 403, body: HOST_REFUSED }, `POST with Host ${host}`);
    for (const path of ["/", "/actions"]) {
      assert.deepEqual(await send(board, { method: "GET", path, headers: { host } }), { status: 403, body: HOST_REFUSED }, `GET ${path} with Host ${host}`);
    }
  }
});

test("the board's own names with its port pass, with or without their Origin; on another port they do not", async () => {
  const board = await startBoard();
  for (const name of ["127.0.0.1", "localhost", "LocalHost", "[::1]"]) {
    const host = `${name}:${board.port}`;
    assert.deepEqual(await send(board, { headers: { ...JSON_TYPE, host }, body: ECHO }), { status: 422, body: NO_CONSUMERS }, host);
    const withOrigin = await send(board, { headers: { ...JSON_TYPE, host, origin: `http://${host}` }, body: ECHO });
    assert.deepEqual(withOrigin, { status: 422, body: NO_CONSUMERS }, `${host} with its Origin`);
    const page = await send(board, { method: "GET", headers: { host } });
    assert.equal(page.status, 200, `GET / with Host ${host}`);
    // A page served by another local port (another dev server) is another origin.
    const otherPort = board.port === 65535 ? 65534 : board.port + 1;
    assert.deepEqual(await send(board, { method: "GET", headers: { host: `${name}:${otherPort}` } }), { status: 403, body: HOST_REFUSED });
  }
});

test("allowedHosts admits a named host (the board's port unless given) and its Origin", async () => {
  const board = await startBoard({ allowedHosts: ["plugboard", "proxy.test:8080"] });
  const passes: Array<Record<string, string>> = [
    { host: `plugboard:${board.port}` },
    { host: `plugboard:${board.port}`, origin: `http://plugboard:${board.port}` },
    { host: "proxy.test:8080", origin: "http://proxy.test:8080" },
    // A page on the board's own name calling through the named one, and the other way round.
    { host: `127.0.0.1:${board.port}`, origin: `http://plugboard:${board.port}` },
  ];
  for (const headers of passes) {
    assert.deepEqual(await send(board, { headers: { ...JSON_TYPE, ...headers }, body: ECHO }), { status: 422, body: NO_CONSUMERS }, JSON.stringify(headers));
  }
  assert.deepEqual(await send(board, { headers: { ...JSON_TYPE, host: "plugboard:9999" }, body: ECHO }), { status: 403, body: HOST_REFUSED });
  assert.deepEqual(await send(board, { headers: { ...JSON_TYPE, host: `proxy.test:${board.port}` }, body: ECHO }), { status: 403, body: HOST_REFUSED });
  const foreign = await send(board, { headers: { ...JSON_TYPE, host: `plugboard:${board.port}`, origin: "http://evil.example" }, body: ECHO });
  assert.deepEqual(foreign, { status: 403, body: ORIGIN_REFUSED });
});

test("the allowed names: loopback, a non-wildcard bind host, extra names with or without port", () => {
  const wildcard = new AllowedHosts("0.0.0.0", 4000);
  assert.ok(wildcard.admitsHost("localhost:4000"));
  assert.ok(!wildcard.admitsHost("0.0.0.0:4000"), "a wildcard bind address is no name");
  assert.ok(!new AllowedHosts("::", 4000).admitsHost("[::]:4000"));
  const lan = new AllowedHosts("192.168.1.5", 4000, ["dev.box", "[fd00::1]:80"]);
  assert.ok(lan.admitsHost("192.168.1.5:4000"));
  assert.ok(lan.admitsHost("DEV.BOX:4000"));
  assert.ok(lan.admitsHost("[fd00::1]"), "no port in Host means 80");
  assert.ok(lan.admitsOrigin("http://[fd00::1]"));
  assert.ok(!lan.admitsHost("192.168.1.5"), "port 80 is not the board's");
  assert.ok(!lan.admitsHost(undefined));
  assert.ok(!lan.admitsHost(""));
  assert.ok(new AllowedHosts("::1", 4000).admitsHost("[::1]:4000"));
});

test("a stalled upload is closed within the short receive timeout; the wait for the answer is not cut", { timeout: 10_000 }, async () => {
  const receiveTimeoutMs = 200;
  const board = await boardWithConsumer({ receiveTimeoutMs, headersTimeoutMs: receiveTimeoutMs });

  // Headers sent, 1 of 100 body bytes: Node's default would keep this open for 300 s.
  const started = Date.now();
  const upload = request({ host: "127.0.0.1", port: board.port, method: "POST", path: "/", agent: false, headers: { ...JSON_TYPE, "content-length": 100 } });
  upload.on("error", () => undefined);
  const [socket] = (await once(upload, "socket")) as [Socket];
  upload.write("{");
  await once(socket, "close");
  const elapsed = Date.now() - started;
  assert.ok(elapsed < receiveTimeoutMs + 2_000, `closed after ${elapsed} ms`);
  assert.deepEqual(requestsSent(board), [], "the half-sent call never reached the consumer");

  // Headers never finished: closed by the headers timeout, after Node's 408.
  const raw = connect(board.port, "127.0.0.1");
  raw.on("error", () => undefined);
  let received = "";
  raw.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
  raw.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1:${board.port}\r\n`);
  await once(raw, "close");
  assert.match(received, /^HTTP\/1\.1 408 /);

  // A whole request whose answer takes longer than the receive timeout is still answered.
  const slow = await send(board, { headers: JSON_TYPE, body: JSON.stringify({ action: "Slow", fields: { ms: receiveTimeoutMs * 3 } }) });
  assert.equal(slow.status, 200);
});

test("a consumer frame above maxFrameBytes closes its socket with 1009, and the board reports 1009", { timeout: 10_000 }, async () => {
  const board = await startBoard({ maxFrameBytes: 1024 });
  const query = new URLSearchParams({ [SOCKET_PARAM.token]: board.token, [SOCKET_PARAM.actions]: "{}", [SOCKET_PARAM.vsn]: VSN_V2 });
  const socket = new WebSocket(`${board.socketUrl}?${query}`);
  socket.on("error", () => undefined);
  await once(socket, "open");
  const disconnected = board.waitFor("disconnect");
  const closed = once(socket, "close");
  socket.send(JSON.stringify([null, "1", "phoenix", "heartbeat", { pad: "x".repeat(2048) }]));
  const [code] = (await closed) as [number];
  assert.equal(code, 1009);
  assert.equal((await disconnected).code, 1009);
});

test("a web page cannot join as a consumer: an upgrade with a foreign Origin gets a bare 403, even with the token", async () => {
  const board = await startBoard({ token: "a-token-a-page-might-know" });
  const url = `${board.socketUrl}?${SOCKET_PARAM.token}=${board.token}&${SOCKET_PARAM.actions}=${encodeURIComponent("{}")}&${SOCKET_PARAM.vsn}=${VSN_V2}`;
  const refused = board.waitFor("refused");
  const page = new WebSocket(url, { origin: "http://evil.example" });
  const status = await new Promise<number>((resolve) => page.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
  assert.equal(status, 403);
  assert.equal((await refused).reason, "foreign origin");
  // Its own origin (the explorer's) and no origin (a Node consumer) still connect.
  for (const origin of [undefined, board.url]) {
    const ok = new WebSocket(url, origin ? { origin } : {});
    await once(ok, "open");
    ok.close();
  }
});
