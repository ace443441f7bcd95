/**
 * HEALTH_PORT over real HTTP: /healthz follows the plugboard join and the database, /readyz
 * the drain too, /metrics counts what the dispatcher answered. Apps run in-process against a
 * dev plugboard the test controls; one run goes through `npm start`'s command.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { sample } from "./support/metrics.ts";
import { mkdtempSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { App } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { DevPlugboard } from "../src/devboard/server.ts";
import { METRIC_NAMES } from "../src/ops/metrics.ts";
import { createTestDatabase } from "./support/database.ts";
import { captureLogs } from "./support/logs.ts";
import { until } from "./support/consumer.ts";
import { freePort } from "../src/net.ts";
import { startService, type ServiceProcess } from "./support/process.ts";
import { EXIT_CODE } from "../src/ops/exit-codes.ts";

const SECRET = "health-test-secret-at-least-32-bytes-long";
const apps: App[] = [];
const boards: DevPlugboard[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  await Promise.all(apps.map((a) => a.stopNow("test over").catch(() => undefined)));
  await Promise.all(boards.map((b) => b.stop()));
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** An app in production mode against `socketUrl`, fixture actions, HEALTH_PORT=0; on a fresh test database unless env names one. */
async function startApp(socketUrl: string, token: string, env: Record<string, string> = {}) {
  if (!env.DATABASE_URL) {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    env = { DATABASE_URL: database.url, ...env };
  }
  const captured = captureLogs("info");
  const config = loadConfig({
    NODE_ENV: "test",
    WEBSOCKET_URL: socketUrl,
    TOKEN: token,
    JWT_SECRET: SECRET,
    ACTIONS_DIR: "tests/fixtures/actions",
    DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-health-")),
    HEALTH_PORT: "0",
    BCRYPT_COST: "4",
    BCRYPT_THREADS: "1",
    ...env,
  });
  const app = await App.start({ config, log: captured.log, client: { reconnectAfterMs: () => 20, rejoinAfterMs: () => 20 } });
  apps.push(app);
  assert.ok(app.health, "HEALTH_PORT set: the health server runs");
  return { app, url: app.health.url, ...captured };
}

async function startBoard(options: { port?: number; token?: string } = {}) {
  const board = await DevPlugboard.start(options);
  boards.push(board);
  return board;
}

async function get(url: string) {
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get("content-type") ?? "", text, json: () => JSON.parse(text) as unknown };
}



const UNAVAILABLE = (reason: string) => ({ status: "unavailable", reason });

/** A body less the events relay's state, which an app with a database adds to it (README "Operations"). */
function healthy(body: unknown): unknown {
  const { events_relay, ...rest } = body as Record<string, unknown>;
  if (events_relay !== undefined) assert.ok(["leading", "standby", "stuck"].includes(String(events_relay)), `events_relay ${String(events_relay)}`);
  return rest;
}

test("healthz and readyz: 503 before the join, 200 once joined, 503 while the plugboard is gone, 200 after it is back", async () => {
  const port = await freePort();
  const token = "health-test-token";
  const socketUrl = `ws://127.0.0.1:${port}/websocket`;
  const { app, url } = await startApp(socketUrl, token);

  // Nothing listens yet: never joined.
  for (const endpoint of ["/healthz", "/readyz"]) {
    const answer = await get(url + endpoint);
    assert.equal(answer.status, 503, endpoint);
    assert.deepEqual(healthy(answer.json()), UNAVAILABLE("not joined to the plugboard"));
  }

  let board = await startBoard({ port, token });
  await until(() => app.client.isJoined, 10_000, "join");
  assert.deepEqual([(await get(`${url}/healthz`)).status, healthy((await get(`${url}/healthz`)).json())], [200, { status: "ok" }]);
  assert.equal((await get(`${url}/readyz`)).status, 200);

  // The plugboard drops every socket and refuses new ones (it is gone).
  await board.stop();
  await until(() => !app.client.isJoined, 10_000, "the join to be lost");
  const down = await get(`${url}/healthz`);
  assert.equal(down.status, 503);
  assert.deepEqual(healthy(down.json()), UNAVAILABLE("not joined to the plugboard"));
  assert.equal((await get(`${url}/readyz`)).status, 503);
  const metricsWhileDown = (await get(`${url}/metrics`)).text;
  assert.equal(sample(metricsWhileDown, `${METRIC_NAMES.connectionState}{state="joined"}`), 0);

  board = await startBoard({ port, token });
  await until(() => app.client.isJoined, 10_000, "rejoin");
  assert.equal((await get(`${url}/healthz`)).status, 200);
  const metrics = (await get(`${url}/metrics`)).text;
  assert.equal(sample(metrics, `${METRIC_NAMES.connectionState}{state="joined"}`), 1);
  assert.equal(sample(metrics, `${METRIC_NAMES.connectionState}{state="connecting"}`), 0);
  assert.ok((sample(metrics, METRIC_NAMES.reconnects) ?? 0) >= 1, "the reconnect was counted");

  await app.stop();
  await assert.rejects(fetch(`${url}/healthz`), "the health server closes with the app");
});

describe("with a joined app", () => {
  test("metrics: requests by action and status code, durations, gauges, event-loop delay, bcrypt pool", async () => {
    const board = await startBoard();
    const { app, url } = await startApp(board.socketUrl, board.token);
    await until(() => app.client.isJoined, 10_000, "join");

    for (let i = 0; i < 3; i++) assert.equal((await board.request("Echo", { text: `hi ${i}` })).status, 200);
    assert.equal((await board.request("Echo", {})).status, 400);
    assert.equal((await board.request("NoSuchAction", {})).status, 404);
    assert.equal((await board.request(`Random${Math.random()}`, {})).status, 404);

    const answer = await get(`${url}/metrics`);
    assert.equal(answer.status, 200);
    assert.match(answer.contentType, /^text\/plain; version=0\.0\.4/);
    const text = answer.text;
    assert.equal(sample(text, `${METRIC_NAMES.requests}{action="Echo",status_code="200"}`), 3);
    assert.equal(sample(text, `${METRIC_NAMES.requests}{action="Echo",status_code="400"}`), 1);
    // Callers choose action names; the label does not: every unknown name shares one value.
    assert.equal(sample(text, `${METRIC_NAMES.requests}{action="unknown",status_code="404"}`), 2);
    assert.ok(!text.includes("NoSuchAction") && !text.includes("Random0."), "no caller-chosen label values");
    assert.equal(sample(text, `${METRIC_NAMES.duration}_count{action="Echo"}`), 4);
    assert.equal(sample(text, `${METRIC_NAMES.duration}_bucket{le="+Inf",action="Echo"}`), 4);
    assert.equal(sample(text, METRIC_NAMES.inFlight), 0);
    assert.equal(sample(text, METRIC_NAMES.queued), 0);
    assert.equal(sample(text, `${METRIC_NAMES.connectionState}{state="joined"}`), 1);
    assert.equal(sample(text, METRIC_NAMES.reconnects), 0);
    assert.equal(sample(text, METRIC_NAMES.consumers), 1);
    assert.equal(sample(text, `${METRIC_NAMES.answers}{outcome="expired"}`), 0);
    // The account module's lane, by its name: the framework names no lane of its own.
    assert.equal(sample(text, `${METRIC_NAMES.laneWorkers}{lane="bcrypt"}`), 1);
    const utilization = sample(text, `${METRIC_NAMES.laneUtilization}{lane="bcrypt"}`);
    assert.ok(utilization !== undefined && utilization >= 0 && utilization <= 1);
    assert.equal(sample(text, `${METRIC_NAMES.laneQueued}{lane="bcrypt"}`), 0);
    assert.equal(sample(text, `${METRIC_NAMES.laneRefused}{lane="bcrypt"}`), 0);
    assert.ok((sample(text, "nodejs_eventloop_lag_p99_seconds") ?? -1) >= 0, "event-loop delay");
    assert.match(text, /^process_cpu_seconds_total /m);

    assert.equal((await get(`${url}/nothing`)).status, 404);
    assert.equal((await fetch(`${url}/healthz`, { method: "POST" })).status, 405);
  });

  test("readyz is 503 while draining (healthz stays 200); the in-flight gauge shows the running request", async () => {
    const board = await startBoard();
    const { app, url } = await startApp(board.socketUrl, board.token);
    await until(() => app.client.isJoined, 10_000, "join");

    const slow = board.request("Slow", { ms: 1_000 });
    await until(() => app.dispatcher.inFlight === 1, 5_000, "the request to start");
    assert.equal(sample((await get(`${url}/metrics`)).text, METRIC_NAMES.inFlight), 1);
    const stopped = app.stop();
    assert.ok(app.dispatcher.isDraining);

    const ready = await get(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(healthy(ready.json()), UNAVAILABLE("draining"));
    const health = await get(`${url}/healthz`);
    assert.deepEqual([health.status, healthy(health.json())], [200, { status: "ok" }]);

    assert.equal((await slow).status, 200, "the in-flight request is still answered");
    await stopped;
  });
});

describe("database unreachable", () => {
  test("healthz 503 while the database does not answer, 200 when it is back", async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const proxy = await startProxy(new URL(database.url));
    cleanups.push(() => proxy.close());
    const proxied = new URL(database.url);
    proxied.host = `127.0.0.1:${proxy.port}`;

    const board = await startBoard();
    const { app, url, lines } = await startApp(board.socketUrl, board.token, { DATABASE_URL: proxied.toString() });
    await until(() => app.client.isJoined, 10_000, "join");
    assert.equal((await get(`${url}/healthz`)).status, 200);

    await proxy.close(); // refuses new connections and cuts the open ones: the database is gone
    const started = performance.now();
    const down = await get(`${url}/healthz`);
    assert.equal(down.status, 503);
    assert.deepEqual(healthy(down.json()), UNAVAILABLE("database unreachable"));
    assert.ok(performance.now() - started < 3_000, "the probe answers quickly, never hangs");
    assert.deepEqual(healthy((await get(`${url}/readyz`)).json()), UNAVAILABLE("database unreachable"));
    assert.ok(lines().some((l) => l.msg === "health check: the database does not answer"));

    await proxy.reopen();
    const up = await get(`${url}/healthz`);
    assert.deepEqual([up.status, healthy(up.json())], [200, { status: "ok" }]);
  });
});

test("npm start with HEALTH_PORT: /healthz answers 200 in dev mode, and the process still exits 0 on SIGTERM", async () => {
  const service: ServiceProcess = startService({
    PLUGBOARD_PORT: "0",
    HEALTH_PORT: "0",
    DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-health-dev-")),
    BCRYPT_COST: "4",
    LOG_LEVEL: "info",
  });
  cleanups.push(async () => {
    if (service.child.exitCode === null) service.kill("SIGKILL");
  });
  const line = await service.waitForLine((l) => typeof l.health_port === "number", 60_000);
  await service.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
  const health = await get(`http://127.0.0.1:${String(line.health_port)}/healthz`);
  assert.deepEqual([health.status, healthy(health.json())], [200, { status: "ok" }]);
  service.kill("SIGTERM");
  assert.equal((await service.exited).code, EXIT_CODE.ok);
});

/** A TCP forwarder to a PostgreSQL server that can be closed (connections refused) and reopened. */
async function startProxy(target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("error", () => undefined);
          socket.on("close", () => sockets.delete(socket));
        }
        client.pipe(upstream).pipe(client);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await open();
  return {
    get port() {
      return port;
    },
    reopen: open,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        if (!server?.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}
