/**
 * Logs for people and machines: JSON lines when stdout is not a terminal (or LOG_FORMAT=json),
 * pino-pretty's lines on a terminal (or LOG_FORMAT=pretty), with the same redaction in both; and
 * pretty lines written synchronously, so the last line before an exit is not lost.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { DevPlugboard } from "../src/devboard/server.ts";
import { createLogger, type LogFormat } from "../src/ops/logger.ts";
import { loadConfig } from "../src/config.ts";
import { serviceArgs } from "./support/build.ts";
import { compiledFixtures, serviceDatabaseEnv, startService, type ServiceProcess } from "./support/process.ts";
import { EXIT_CODE } from "../src/ops/exit-codes.ts";

const boards: DevPlugboard[] = [];
const processes: ServiceProcess[] = [];
after(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
  await Promise.all(boards.map((b) => b.stop()));
});

function capture(format: LogFormat) {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { log: createLogger({ level: "trace", format, destination }), text: () => chunks.join("") };
}

const SECRETS = {
  password: "hunter2-password-value",
  token: "tok-9f8e7d6c5b4a",
  jwt: "eyJhbGciOiJIUzI1NiJ9.payload.signature",
  authorization: "Bearer abcdef-authorization",
  JWT_SECRET: "the-jwt-secret-of-at-least-32-bytes!!",
};

test("LOG_FORMAT: json or pretty; unset means pretty on a terminal only", () => {
  assert.equal(loadConfig({}).logFormat, undefined);
  assert.equal(loadConfig({ LOG_FORMAT: "json" }).logFormat, "json");
  assert.equal(loadConfig({ LOG_FORMAT: "pretty" }).logFormat, "pretty");
  assert.throws(() => loadConfig({ LOG_FORMAT: "xml" }), /LOG_FORMAT/);
});

test("a secret in a pretty line is redacted, exactly where the JSON line redacts it", () => {
  const json = capture("json");
  const pretty = capture("pretty");
  for (const { log } of [json, pretty]) {
    log.info({ user: { id: 7, ...SECRETS }, request: { fields: { password: SECRETS.password, name: "Ada" } } }, "signing in");
    log.error({ ...SECRETS, token_id: "t1" }, "top level");
  }
  const lines = json.text().trim().split("\n").map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
  assert.equal(lines[0]!.user!.password, "[redacted]");
  assert.equal(lines[1]!.jwt, "[redacted]");
  const text = pretty.text();
  assert.match(text, /signing in/);
  assert.doesNotMatch(text, /^\{/m, "not JSON");
  assert.match(text, /"name": "Ada"/);
  assert.match(text, /token_id: "t1"/);
  for (const secret of Object.values(SECRETS)) {
    assert.ok(!json.text().includes(secret), `JSON line holds ${secret}`);
    assert.ok(!text.includes(secret), `pretty line holds ${secret}`);
  }
  const count = (s: string) => s.split("[redacted]").length - 1;
  assert.equal(count(text), count(json.text()), "as many fields redacted in both");
});

test("on a terminal the service logs pretty lines by default (a config error, through a pseudo-terminal)", { skip: spawnSync("script", ["--version"]).error ? "no script(1)" : false }, () => {
  const command = [process.execPath, ...serviceArgs()].map((w) => `'${w}'`).join(" ");
  const result = spawnSync("script", ["-qfec", command, "/dev/null"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, NODE_ENV: "production", TERM: "dumb" },
    timeout: 20_000,
  });
  assert.equal(result.status, EXIT_CODE.config, result.stdout);
  assert.match(result.stdout, /FATAL.*configuration: WEBSOCKET_URL: required when NODE_ENV=production/);
  assert.doesNotMatch(result.stdout, /"level"/, "not JSON");
  const piped = spawnSync(process.execPath, serviceArgs(), { encoding: "utf8", env: { PATH: process.env.PATH, NODE_ENV: "production" } });
  assert.equal(piped.status, EXIT_CODE.config);
  assert.equal(JSON.parse(piped.stdout.trim()).level, "fatal", "JSON when stdout is a pipe");
});

test("LOG_FORMAT=pretty in a running service: readable lines, the plugboard's token value redacted, nothing lost at exit", async () => {
  const board = await DevPlugboard.start();
  boards.push(board);
  const service = startService({
    WEBSOCKET_URL: board.socketUrl,
    TOKEN: board.token,
    JWT_SECRET: SECRETS.JWT_SECRET,
    ACTIONS_DIR: compiledFixtures("actions"),
    DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-logs-")),
    LOG_LEVEL: "trace",
    LOG_FORMAT: "pretty",
    ...(await serviceDatabaseEnv()),
  });
  processes.push(service);
  const output = service.output;
  const until = async (pattern: RegExp) => {
    for (const deadline = Date.now() + 60_000; !pattern.test(output()); ) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${output().slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await until(/joined the plugboard/);
  board.faults.push("token_created", { token: { id: "t1", value: "plaintext-token-value-123", context: "api", service_id: board.service.id } });
  await until(/token created/);
  assert.equal((await board.request("Echo", { text: "hi" })).status, 200);
  service.kill("SIGTERM");
  const { code } = await service.exited;
  assert.equal(code, EXIT_CODE.ok);
  const text = output();
  assert.doesNotMatch(text, /^\{"level"/m, "no JSON lines");
  assert.match(text, /INFO.*joined the plugboard/);
  for (const secret of [board.token, SECRETS.JWT_SECRET, "plaintext-token-value-123"]) assert.ok(!text.includes(secret), `log holds ${secret.slice(0, 6)}…`);
  // The last words of the process, written just before process.exit: synchronous writes keep them.
  assert.match(text.trimEnd().split("\n").slice(-3).join("\n"), /stopped cleanly/);
});
