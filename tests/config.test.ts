import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { ConfigError, loadConfig, serviceProblems } from "../src/config.ts";
import { DIST, serviceArgs } from "./support/build.ts";
import { EXIT_CODE } from "../src/ops/exit-codes.ts";

test("defaults: dev mode with the spec's values", () => {
  const config = loadConfig({});
  assert.equal(config.production, false);
  assert.equal(config.maxConcurrency, 64);
  assert.equal(config.actionTimeoutMs, 25000);
  assert.equal(config.shutdownTimeoutMs, 20000);
  assert.equal(config.healthPort, undefined);
  assert.equal(config.logLevel, "info");
  assert.equal(config.plugboard.port, 4000);
  assert.equal(config.plugboard.host, "127.0.0.1");
  assert.equal(config.database, undefined);
});

test("the config object is frozen, all the way down", () => {
  const config = loadConfig({});
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.plugboard));
  assert.throws(() => {
    (config as { maxConcurrency: number }).maxConcurrency = 1;
  });
});

test("production mode needs TOKEN (JWT_SECRET is the account module's: tests/account-settings.test.ts)", () => {
  assert.throws(
    () => loadConfig({ WEBSOCKET_URL: "ws://localhost:4000/websocket" }),
    (e: unknown) => e instanceof ConfigError && e.problems.length === 1 && /^TOKEN: required/.test(e.problems[0]!),
  );
  const config = loadConfig({ WEBSOCKET_URL: "ws://localhost:4000/websocket", TOKEN: "t" });
  assert.equal(config.production, true);
  assert.equal(config.token, "t");
});

test("every bad value is reported, one problem each", () => {
  try {
    loadConfig({ WEBSOCKET_URL: "http://x", MAX_CONCURRENCY: "many", LOG_LEVEL: "loud" });
    assert.fail("should throw");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const text = error.problems.join("\n");
    assert.match(text, /WEBSOCKET_URL: must start with ws:\/\//);
    assert.match(text, /MAX_CONCURRENCY: must be a whole number/);
    assert.match(text, /LOG_LEVEL/);
  }
  assert.throws(() => loadConfig({ ACTION_TIMEOUT_MS: "30000" }), /ACTION_TIMEOUT_MS/);
});

test("ACTIONS_WATCH: the dev loop in dev mode, refused in production, off by default", () => {
  assert.equal(loadConfig({}).watchActions, false);
  assert.equal(loadConfig({ ACTIONS_WATCH: "1" }).watchActions, true);
  assert.equal(loadConfig({ ACTIONS_WATCH: "false" }).watchActions, false);
  assert.throws(() => loadConfig({ ACTIONS_WATCH: "yes" }), /ACTIONS_WATCH/);
  assert.throws(() => loadConfig({ WEBSOCKET_URL: "ws://h/websocket", TOKEN: "t", ACTIONS_WATCH: "1" }), /ACTIONS_WATCH: the dev loop is for dev mode/);
});

test("database URL from DATABASE_URL or the POSTGRES_* variables", () => {
  assert.equal(loadConfig({ DATABASE_URL: "postgres://u:p@h:1/d" }).database?.url, "postgres://u:p@h:1/d");
  const url = loadConfig({ POSTGRES_USER: "vera", POSTGRES_PASSWORD: "p@ss word", POSTGRES_DB: "accounts", POSTGRES_HOST: "db" }).database?.url;
  assert.equal(url, "postgres://vera:p%40ss%20word@db:5432/accounts");
  assert.equal(loadConfig({ DATABASE_URL: "postgresql://u@h/d" }).database?.url, "postgresql://u@h/d");
  assert.equal(loadConfig({ DATABASE_URL: "postgres:///d?host=/var/run/postgresql" }).database?.url, "postgres:///d?host=/var/run/postgresql");
  // pg would take "not a url" for a host name and fail later with ENOTFOUND; the value is never echoed.
  assert.throws(() => loadConfig({ DATABASE_URL: "not a url secret" }), (error: ConfigError) =>
    error.problems.join() === "DATABASE_URL: cannot be parsed as a URL: expected postgres://user:password@host:5432/database" && !error.message.includes("secret"));
  assert.throws(() => loadConfig({ DATABASE_URL: "mysql://u:p@h/d" }), /DATABASE_URL: must be a postgres:\/\/ \(or postgresql:\/\/\) URL, not mysql:\/\//);
});

test("HEALTH_HOST: unset, 127.0.0.1 in dev mode and every interface in production", () => {
  assert.equal(loadConfig({}).healthHost, "127.0.0.1");
  assert.equal(loadConfig({ WEBSOCKET_URL: "ws://plugboard:4000/websocket", TOKEN: "t" }).healthHost, undefined);
  assert.equal(loadConfig({ HEALTH_HOST: "0.0.0.0" }).healthHost, "0.0.0.0");
  assert.equal(loadConfig({ WEBSOCKET_URL: "ws://plugboard:4000/websocket", TOKEN: "t", HEALTH_HOST: "10.0.0.5" }).healthHost, "10.0.0.5");
});

test("PLUGBOARD_ALLOWED_HOSTS: comma-separated names with optional ports, none by default", () => {
  assert.deepEqual(loadConfig({}).plugboard.allowedHosts, []);
  assert.deepEqual(loadConfig({ PLUGBOARD_ALLOWED_HOSTS: " plugboard, dev.box:8080 ,,[::1]:4000" }).plugboard.allowedHosts, ["plugboard", "dev.box:8080", "[::1]:4000"]);
  assert.throws(() => loadConfig({ PLUGBOARD_ALLOWED_HOSTS: "http://plugboard" }), /PLUGBOARD_ALLOWED_HOSTS: must be host names/);
});

test("npm start with a bad configuration exits non-zero before connecting, one line per problem", () => {
  const result = spawnSync(process.execPath, serviceArgs(), {
    encoding: "utf8",
    env: { PATH: process.env.PATH, WEBSOCKET_URL: "ws://127.0.0.1:9/websocket", MAX_CONCURRENCY: "0" },
    timeout: 20_000,
  });
  assert.equal(result.status, EXIT_CODE.config);
  const lines = result.stdout.trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string });
  assert.equal(lines.length, 2, "TOKEN and MAX_CONCURRENCY (the account settings are checked once the framework's pass)");
  assert.ok(lines.every((l) => l.level === "fatal" && l.msg.startsWith("configuration: ")));
  assert.ok(lines.some((l) => /TOKEN/.test(l.msg)));
  assert.ok(lines.some((l) => /MAX_CONCURRENCY/.test(l.msg)));
});

test("the app's folders come from APP_DIR (default: the working directory), never from beside the framework's files", () => {
  const here = loadConfig({});
  assert.equal(here.appDir, process.cwd());
  assert.equal(here.actionsDir, path.resolve("actions"));
  assert.equal(here.events.subscribersDir, path.resolve("subscribers"));
  assert.equal(here.migrationsDir, path.resolve("migrations"));
  const built = loadConfig({ APP_DIR: "dist" });
  assert.deepEqual([built.appDir, built.actionsDir, built.events.subscribersDir, built.migrationsDir], ["dist", "dist/actions", "dist/subscribers", "dist/migrations"].map((p) => path.resolve(p)));
  // Each folder on its own still wins.
  const own = loadConfig({ APP_DIR: "dist", ACTIONS_DIR: "tests/fixtures/actions", MIGRATIONS_DIR: "/srv/m", SUBSCRIBERS_DIR: "s" });
  assert.deepEqual([own.actionsDir, own.migrationsDir, own.events.subscribersDir], [path.resolve("tests/fixtures/actions"), "/srv/m", path.resolve("s")]);
  // Compiled, the framework reads the same: nothing is found beside dist/src/config.js.
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", `import { loadConfig } from ${JSON.stringify(path.join(DIST, "src/config.js"))}; process.stdout.write(loadConfig({}).actionsDir)`], {
    encoding: "utf8",
    cwd: "/",
  });
  assert.equal(result.stdout, "/actions", result.stderr);
});

test("NODE_ENV=production without WEBSOCKET_URL is a problem for the service (not for the dev plugboard or migrate)", () => {
  assert.deepEqual(serviceProblems(loadConfig({ NODE_ENV: "production" })), [
    "WEBSOCKET_URL: required when NODE_ENV=production (without it the service would run the dev plugboard)",
  ]);
  assert.deepEqual(serviceProblems(loadConfig({ NODE_ENV: "production", WEBSOCKET_URL: "ws://x/websocket", TOKEN: "t" })), []);
  assert.deepEqual(serviceProblems(loadConfig({})), []);
});
