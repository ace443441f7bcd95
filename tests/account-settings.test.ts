/**
 * The account module's settings (account/settings.ts): read by the framework as the accounts
 * provider's settings, every problem one line naming the variable; a production start with a bad
 * one exits 2 before it connects anywhere.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { ConfigError, readSettings } from "../src/config.ts";
import { accountSettings } from "../account/settings.ts";
import { serviceArgs } from "./support/build.ts";
import { EXIT_CODE } from "../src/ops/exit-codes.ts";

const SECRET = "x".repeat(32);
const dev = (env: Record<string, string>) => readSettings(accountSettings({ production: false, test: false }), env);
const production = (env: Record<string, string>, test = false) => readSettings(accountSettings({ production: true, test }), env);
const problems = (read: () => unknown) => {
  try {
    read();
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  return assert.fail("should throw");
};

test("defaults: the spec's values; frozen all the way down", () => {
  const settings = dev({});
  assert.equal(settings.jwt.algorithm, "HS256");
  assert.equal(settings.jwt.issuer, "vera-service");
  assert.equal(settings.jwt.audience, "vera-clients");
  assert.equal(settings.jwt.ttlSeconds, 3600);
  assert.equal(settings.jwt.maxTtlSeconds, 2592000);
  assert.deepEqual(settings.limits, {
    name: { min: 1, max: 255 },
    username: { min: 3, max: 50 },
    email: { min: 3, max: 254 },
    password: { min: 8, max: 72 },
  });
  assert.equal(settings.bcrypt.cost, 12);
  assert.deepEqual(settings.login, { maxFailures: 10, windowSeconds: 900 });
  assert.ok(Object.isFrozen(settings.jwt));
});

test("production needs JWT_SECRET for HS*, and a bcrypt cost of 10 or more (tests excepted)", () => {
  assert.deepEqual(problems(() => production({})), ["JWT_SECRET: required for HS256 when WEBSOCKET_URL is set"]);
  assert.equal(production({ JWT_SECRET: SECRET }).jwt.secret, SECRET);
  assert.deepEqual(problems(() => production({ JWT_SECRET: SECRET, BCRYPT_COST: "4" })), ["BCRYPT_COST: must be at least 10 in production"]);
  assert.equal(production({ JWT_SECRET: SECRET, BCRYPT_COST: "4" }, true).bcrypt.cost, 4);
  assert.equal(dev({ BCRYPT_COST: "4" }).bcrypt.cost, 4);
});

test("every bad value is reported, one problem each", () => {
  assert.match(problems(() => dev({ BCRYPT_COST: "3" })).join("\n"), /BCRYPT_COST: must be at least 4/);
  assert.deepEqual(problems(() => dev({ JWT_SECRET: "short" })), ["JWT_SECRET: must be at least 32 bytes"]);
  assert.match(problems(() => dev({ MIN_PASSWORD_LENGTH: "20", MAX_PASSWORD_LENGTH: "10" })).join(), /MIN_PASSWORD_LENGTH/);
  assert.match(problems(() => dev({ MAX_PASSWORD_LENGTH: "100" })).join(), /MAX_PASSWORD_LENGTH: must be at most 72/);
  assert.match(problems(() => dev({ JWT_TTL_SECONDS: "100", JWT_MAX_TTL_SECONDS: "10" })).join(), /JWT_TTL_SECONDS: must not exceed/);
});

test("asymmetric algorithms need a private key and a key id", () => {
  assert.deepEqual(problems(() => dev({ JWT_ALGORITHM: "RS256" })), ["JWT_PRIVATE_KEY: required for RS256", "JWT_KEY_ID: required for RS256"]);
  assert.match(problems(() => dev({ JWT_ALGORITHM: "none" })).join(), /JWT_ALGORITHM/);
});

test("npm start in production with bad account settings exits 2, one line per problem, before connecting", () => {
  const result = spawnSync(process.execPath, serviceArgs(), {
    encoding: "utf8",
    env: { PATH: process.env.PATH, WEBSOCKET_URL: "ws://127.0.0.1:9/websocket", TOKEN: "t", JWT_SECRET: "short", BCRYPT_COST: "5" },
    timeout: 20_000,
  });
  assert.equal(result.status, EXIT_CODE.config, result.stdout + result.stderr);
  const lines = result.stdout.trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string });
  const fatal = lines.filter((l) => l.level === "fatal");
  assert.deepEqual(
    fatal.map((l) => l.msg),
    ["configuration: JWT_SECRET: must be at least 32 bytes", "configuration: BCRYPT_COST: must be at least 10 in production"],
  );
  assert.ok(!lines.some((l) => /connected|embedded PostgreSQL/.test(l.msg)), "nothing connected");
});
