/**
 * Two services on one dev plugboard, as a developer runs them (README "Calling another
 * service"): `npm start` hosting the board with a second service (PLUGBOARD_SERVICES), and one
 * more `npm start` joining it with that service's token. Each calls the other's action through
 * `POST /` (ctx.call), in both HTTP modes of the board; the explorer lists both services; the
 * API token appears in neither log.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { compiledFixtures, startService, type ServiceProcess } from "./support/process.ts";
import { sample } from "./support/metrics.ts";

const processes: ServiceProcess[] = [];
after(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
});

const API_TOKEN = "dev-api-token-for-service-calls";
const GREETER_TOKEN = "greeter-dev-token";

for (const [httpMode, messageFormat] of [["full", "text"], ["vera", "answer"]] as const) {
  test(`two services call each other through the dev plugboard (PLUGBOARD_HTTP=${httpMode}, MESSAGE_FORMAT=${messageFormat})`, async () => {
    const common = { ACTIONS_DIR: compiledFixtures("caller-actions"), PLUGBOARD_API_TOKEN: API_TOKEN, MESSAGE_FORMAT: messageFormat, LOG_LEVEL: "debug" };
    const first = startService({ ...common, PLUGBOARD_PORT: "0", PLUGBOARD_HTTP: httpMode, PLUGBOARD_SERVICES: `greeter:${GREETER_TOKEN}`, HEALTH_PORT: "0" });
    processes.push(first);
    const ready = await first.waitForLine((l) => typeof l.explorer === "string", 30_000);
    const hosted = await first.waitForLine((l) => l.hosted_service === "greeter" && typeof l.service_id === "string");
    const second = startService({ ...common, WEBSOCKET_URL: String(ready.socket), TOKEN: GREETER_TOKEN });
    processes.push(second);
    await second.waitForLine((l) => l.msg === "joined the plugboard", 30_000);

    const board = String(ready.explorer);
    const call = async (serviceId: string, fields: unknown) => {
      const response = await fetch(`${board}/`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${API_TOKEN}` },
        body: JSON.stringify({ service_id: serviceId, action: "CallOther", fields }),
      });
      const body = (await response.json()) as { status: string; message: unknown; fields?: { result: Record<string, unknown> } };
      // The Vera Plugboard's shape carries the fields inside `message` (MESSAGE_FORMAT=answer).
      const outer = httpMode === "full" ? body.fields : (body.message as { fields: { result: Record<string, unknown> } }).fields;
      return { status: response.status, result: outer!.result };
    };

    // The first service's action calls the greeter's Echo…
    const there = await call(String(ready.service_id), { service_id: String(hosted.service_id), action: "Echo", fields: { text: "hello greeter" } });
    assert.equal(there.status, 200);
    assert.deepEqual({ ok: there.result.ok, fields: there.result.fields, attempts: there.result.attempts }, { ok: true, fields: { text: "hello greeter" }, attempts: 1 });
    // …and the greeter's calls the first service's, through the HTTP side derived from its WEBSOCKET_URL.
    const back = await call(String(hosted.service_id), { service_id: String(ready.service_id), action: "Echo", fields: { text: "hello back" } });
    assert.deepEqual({ ok: back.result.ok, fields: back.result.fields }, { ok: true, fields: { text: "hello back" } });
    // A failure is the action's to answer: here, an action the other service does not have.
    const missing = await call(String(ready.service_id), { service_id: String(hosted.service_id), action: "Nope", fields: {} });
    assert.deepEqual({ ok: missing.result.ok, reason: missing.result.reason, statusCode: missing.result.statusCode }, { ok: false, reason: "answered", statusCode: 404 });

    // The first service's metrics: its calls to the greeter (by id: an untyped target), by outcome.
    const port = Number((await first.waitForLine((l) => typeof l.health_port === "number")).health_port);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const target = String(hosted.service_id);
    assert.equal(sample(metrics, `vera_calls_total{target="${target}",outcome="ok"}`), 1);
    assert.equal(sample(metrics, `vera_calls_total{target="${target}",outcome="answered"}`), 1);
    assert.equal(sample(metrics, `vera_call_duration_seconds_count{target="${target}"}`), 2);
    assert.equal(sample(metrics, `vera_call_breaker_state{target="${target}",state="closed"}`), 1);

    const page = await (await fetch(`${board}/`)).text();
    assert.match(page, /Other services on this board/);
    assert.ok(page.includes(String(hosted.service_id)) && page.includes("greeter"));
    for (const service of [first, second]) {
      assert.ok(service.lines().some((l) => l.msg === "service call" && l.outcome === "ok"), "each logged its call");
      assert.ok(!service.output().includes(API_TOKEN), "the API token is never logged");
      assert.ok(!service.output().includes(GREETER_TOKEN), "nor the greeter's token");
    }
    second.kill("SIGTERM");
    first.kill("SIGTERM");
    assert.equal((await second.exited).code, 0);
    assert.equal((await first.exited).code, 0);
  });
}
