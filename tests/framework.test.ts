/**
 * The framework's declarations at work, in-process: unknown fields at every depth, per-action
 * deadlines and concurrency, output schemas, custom middleware and providers; and the import
 * rule that keeps the framework apart from the account app.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import fg from "fast-glob";
import { ProviderHost } from "../src/providers.ts";
import { createLogger } from "../src/ops/logger.ts";
import { dispatcherFor, inProcessDispatcher } from "./support/dispatcher.ts";
import { captureLogs } from "./support/logs.ts";
import { z } from "zod";
import { Action, middleware, ok, provider, type Context, type Fields, type Logger } from "vera-service";
import { counter, events, singleMax } from "./fixtures/framework-actions/index.ts";

const FIXTURES = "tests/fixtures/framework-actions";
const providers = new ProviderHost({ log: createLogger({ level: "silent" }), production: false });
const { d: dispatcher, registry, log, lines } = await inProcessDispatcher(FIXTURES, { providers, checkOutputs: true });
await providers.start(registry.providers);
after(() => providers.stop());
let refs = 0;
const call = (action: string, fields: unknown) => dispatcher.dispatch({ action, fields, response_ref: `r${++refs}` });

describe("unknown fields", () => {
  test("are refused at every depth, in arrays too; a passthrough object keeps its extra keys", async () => {
    const nested = await call("Nested", { address: { city: "Oslo", zip: "0150" } });
    assert.deepEqual([nested.status_code, nested.message], [400, "Invalid fields: address.zip: is not a known field"]);
    const inArray = await call("Nested", { address: { city: "Oslo", lines: [{ text: "a", bold: true }] } });
    assert.equal(inArray.status_code, 400);
    assert.equal(inArray.message, "Invalid fields: address.lines.0.bold: is not a known field");
    const passthrough = await call("Nested", { address: { city: "Oslo" }, meta: { tag: "t", extra: 1 } });
    assert.deepEqual([passthrough.status_code, passthrough.fields], [200, { address: { city: "Oslo" }, meta: { tag: "t", extra: 1 } }]);
  });
});

describe("per-action limits", () => {
  test("an action's own deadline answers 504 before the global one, and is published", async () => {
    const started = performance.now();
    const answer = await call("Quick", {});
    assert.equal(answer.status_code, 504);
    assert.ok(performance.now() - started < 4_000, "well before ACTION_TIMEOUT_MS (5 s)");
    assert.equal(registry.published.Quick!.description, "Has a short deadline (answers within 0.05 s)");
  });

  test("an action's own concurrency bound holds, and its waiting runs do not hold up the queue behind them", async () => {
    // Two slots: the first Single and a Wait take them; the second Single and a Counted queue,
    // in that order. When the Wait ends, the Counted must start although the Single before it
    // in the queue still has no room.
    const { d } = await inProcessDispatcher(FIXTURES, { providers, maxConcurrency: 2 });
    const finished: string[] = [];
    const run = (name: string, action: string, fields: unknown) =>
      d.dispatch({ action, fields, response_ref: name }).then((answer) => {
        finished.push(name);
        return answer.status_code;
      });
    const codes = await Promise.all([
      run("single-1", "Single", { ms: 400 }),
      run("single-2", "Single", { ms: 10 }),
      run("wait", "Wait", { ms: 20 }),
      run("counted", "Counted", {}),
    ]);
    assert.deepEqual(codes, [200, 200, 200, 200]);
    assert.equal(singleMax, 1, "never two Singles at once");
    assert.deepEqual(finished, ["wait", "counted", "single-1", "single-2"]);
  });
});

describe("output schemas", () => {
  test("are published, and a success that does not match answers 500 outside production", async () => {
    assert.deepEqual(registry.published.Shaped!.output, {
      type: "object",
      properties: { count: { type: "number" } },
      required: ["count"],
      additionalProperties: false,
    });
    assert.deepEqual((await call("Shaped", {})).fields, { count: 3 });
    const wrong = await call("Shaped", { wrong: true });
    assert.deepEqual([wrong.status_code, wrong.message], [500, "Internal server error"]);
    assert.ok(lines().some((l) => /output schema/.test(String(l.msg)) && JSON.stringify(l.problems).includes("count")));
  });

  test("are not checked in production", async () => {
    const { d: unchecked } = await inProcessDispatcher(FIXTURES, { providers, checkOutputs: false });
    const answer = await unchecked.dispatch({ action: "Shaped", fields: { wrong: true }, response_ref: "p" });
    assert.deepEqual([answer.status_code, answer.fields], [200, { count: "many" }]);
  });
});

describe("custom middleware", () => {
  test("takes its own fields, adds to the context, sees the answer, or answers instead", async () => {
    assert.deepEqual(Object.keys(registry.published.Audited!.fields), ["team", "n"]);
    const answer = await call("Audited", { team: "core", n: 1 });
    assert.deepEqual([answer.status_code, answer.fields], [200, { team: "core", fields: { n: 1 } }]);
    assert.ok(events.includes(`Audited:r${refs}:200`));
    const blocked = await call("Audited", { team: "blocked", n: 1 });
    assert.deepEqual([blocked.status_code, blocked.message], [400, "Team blocked"]);
    assert.equal((await call("Audited", { n: 1 })).message, "Invalid fields: team: is required");
  });
});

describe("the context a middleware extends", () => {
  test("its additions make a new context, so one may replace log; the context it was given is untouched", async () => {
    const given: Array<{ ctx: object; log: unknown }> = [];
    const logs = captureLogs("info");
    const withUser = middleware<{ user: string; log: Logger }>({
      name: "withUser",
      handle: async ({ ctx }, next) => {
        given.push({ ctx, log: ctx.log });
        return await next({ user: "ada", log: ctx.log.child({ user: "ada" }) });
      },
    });
    class WhoAmI extends Action.with({ schema: z.object({}), use: [withUser] }) {
      run(_: Fields<typeof WhoAmI>, ctx: Context<{ user: string; log: Logger }>) {
        ctx.log.info("who am I");
        // The rest of the context still answers, through the one the middleware extended.
        return ok("You", { user: ctx.user, action: ctx.action, deadline: typeof ctx.deadline, aborted: ctx.signal.aborted });
      }
    }
    const d = dispatcherFor([WhoAmI], { log: logs.log });
    const answer = await d.dispatch({ action: "WhoAmI", fields: {}, response_ref: "who" });
    assert.deepEqual([answer.status_code, answer.fields], [200, { user: "ada", action: "WhoAmI", deadline: "number", aborted: false }]);
    // Read after the action ran: the additions went into a new context, not into this one.
    const { ctx: original, log: originalLog } = given[0]!;
    assert.equal((original as { user?: unknown }).user, undefined, "nothing was written into the context the middleware got");
    assert.equal((original as { log?: unknown }).log, originalLog, "its log is still the request's");
    const line = logs.lines().find((l) => l.msg === "who am I")!;
    assert.deepEqual([line.user, line.action, line.response_ref], ["ada", "WhoAmI", "who"], "the replaced log, a child of the request's");
    await d.drain();
  });

  test("ctx.get of a provider the action did not declare fails (500), even while another action has it started", async () => {
    const logs = captureLogs("info");
    const host = new ProviderHost({ log: logs.log, production: false });
    const tally = provider({ name: "tally", start: () => ({ n: 1 }) });
    class Declares extends Action.with({ schema: z.object({}), needs: [tally] }) {
      run(_: Fields<typeof Declares>, ctx: Context) {
        return ok("Counted", { n: ctx.get(tally).n });
      }
    }
    class Forgets extends Action.with({ schema: z.object({}) }) {
      run(_: Fields<typeof Forgets>, ctx: Context) {
        return ok("Counted", { n: ctx.get(tally).n });
      }
    }
    await host.start([tally]);
    try {
      const d = dispatcherFor([Declares, Forgets], { log: logs.log, providers: host });
      assert.equal((await d.dispatch({ action: "Declares", fields: {}, response_ref: "a" })).status_code, 200);
      assert.deepEqual(await d.dispatch({ action: "Forgets", fields: {}, response_ref: "b" }), { status: "error", status_code: 500, message: "Internal server error", fields: null });
      const failed = logs.lines().find((l) => l.msg === "action failed" && l.response_ref === "b")!;
      assert.match(String((failed.err as { message: string }).message), /Forgets reads the provider "tally" without declaring it: add it to the action's needs/);
      await d.drain();
    } finally {
      await host.stop();
    }
  });
});

describe("providers", () => {
  test("start once for the actions that need them, typed through ctx.get, and stop with the host", async () => {
    assert.deepEqual(registry.providers, [counter]);
    assert.equal(events.filter((e) => e === "counter started").length, 1);
    const first = await call("Counted", {});
    const second = await call("Counted", {});
    assert.ok((second.fields as { n: number }).n > (first.fields as { n: number }).n);
    const host = new ProviderHost({ log, production: false });
    await host.start([counter]);
    await host.stop();
    assert.ok(events.includes("counter stopped"));
    assert.throws(() => host.get(counter), /provider "counter" is not started/);
  });
});

describe("the import rule", () => {
  const importsOf = (file: string) => [...readFileSync(file, "utf8").matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]!);

  test("this repository's app imports only public entries: vera-service, vera-service/account, packages and node:", async () => {
    const files = await fg("app/**/*.ts");
    assert.ok(files.length > 0);
    for (const file of files) {
      for (const spec of importsOf(file)) {
        const allowed = spec === "vera-service" || spec.startsWith("vera-service/") || spec.startsWith("node:") || !spec.startsWith(".");
        assert.ok(allowed, `${file} imports ${spec}: the app imports the package's public entries only, as any app does`);
      }
    }
  });

  test("the account module is built on vera-service alone: it never imports the framework's files", async () => {
    const framework = path.resolve("src") + path.sep;
    for (const file of await fg(["account/**/*.ts", "account/**/*.mjs"])) {
      for (const spec of importsOf(file).filter((s) => s.startsWith("."))) {
        assert.ok(!path.resolve(path.dirname(file), spec).startsWith(framework), `${file} imports ${spec}: use vera-service`);
      }
      assert.ok(!importsOf(file).includes("vera-service/account"), `${file}: the module's own files import each other by path`);
    }
  });

  test("the framework never imports the account module or the app (and nothing by a package name of its own)", async () => {
    const app = ["account", "app"].map((dir) => path.resolve(dir) + path.sep);
    for (const file of await fg(["src/**/*.ts"])) {
      for (const spec of importsOf(file)) {
        // client-code.ts writes a client module that imports vera-service: text, not an import of its own.
        if (file !== "src/calls/client-code.ts") assert.ok(!spec.startsWith("vera-service"), `${file} imports ${spec}: the framework's files import each other by path`);
        if (!spec.startsWith(".")) continue;
        const target = path.resolve(path.dirname(file), spec);
        assert.ok(!app.some((dir) => target.startsWith(dir)), `${file} imports ${spec}, which is the app's`);
      }
    }
  });

  test("no framework file finds a folder of the app beside its own files", async () => {
    for (const file of await fg(["src/**/*.ts"])) {
      const text = readFileSync(file, "utf8");
      for (const folder of ["actions", "subscribers", "migrations"]) {
        const beside = new RegExp(`new URL\\(["'](\\.\\./)+${folder}/?["']`);
        if (file === "src/db/migration-sources.ts" && folder === "migrations") {
          // The framework's own migrations, src/migrations/: its tables, not the app's.
          assert.match(text, /new URL\("\.\.\/migrations\/", import\.meta\.url\)/);
          continue;
        }
        assert.doesNotMatch(text, beside, `${file} finds ${folder}/ beside itself`);
      }
    }
  });
});

describe("an app without account actions", () => {
  test("starts in production mode with no database configured, serves, and opens no database", async () => {
    const { mkdtempSync, existsSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const path = await import("node:path");
    const { DevPlugboard } = await import("../src/devboard/server.ts");
    const { App } = await import("../src/app.ts");
    const { loadConfig } = await import("../src/config.ts");
    const board = await DevPlugboard.start({ log });
    const dataDir = mkdtempSync(path.join(tmpdir(), "vera-greet-"));
    // No JWT_SECRET: that is the account module's setting, and this app has no account actions.
    const config = loadConfig({ WEBSOCKET_URL: board.socketUrl, TOKEN: board.token, ACTIONS_DIR: "tests/fixtures/greet-only", DATA_DIR: dataDir, HEALTH_PORT: "0" });
    assert.equal(config.production, true);
    assert.equal(config.database, undefined);
    const app = await App.start({ config, log });
    try {
      await board.waitFor(() => board.consumers().some((c) => c.joined), 10_000);
      assert.deepEqual(app.registry.names, ["Greet"]);
      const answer = await board.request("Greet", { name: "Ada" });
      assert.equal(answer.status, 200);
      assert.deepEqual((answer.body as { fields: unknown }).fields, { greeting: "Hello, Ada!" });
      assert.equal(app.database, undefined, "no database opened");
      assert.equal(existsSync(path.join(dataDir, "postgres")), false, "no embedded database started");
      const health = await fetch(`${app.health!.url}/healthz`);
      assert.equal(health.status, 200, "healthy without a database");
    } finally {
      await app.stop();
      await board.stop();
    }
  });
});
