/**
 * The command-line tools as operators run them (compiled, plain node): an option or argument a
 * tool does not know is refused with its usage and exit 2 before anything is done (a typo never
 * turns `migrate --check` into a write); --help and -h print the usage and exit 0. `migrate`
 * says which database it is about to change, the embedded one when nothing is configured.
 * Problems a person can fix read as one plain line: a DATABASE_URL that is not a URL, a database
 * that cannot be reached.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { cliArgs, DIST } from "./support/build.ts";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { compiledFixtures, runNode, startService } from "./support/process.ts";
import { freePort } from "../src/net.ts";
import { until } from "./support/consumer.ts";

/** Each subcommand of `vera-service`, and command lines it refuses. */
const TOOLS = {
  migrate: [["--force"]],
  roles: [["list", "--all"], ["--verbose", "list"]],
  client: [["x.json", "--output", "y"], ["a", "b"]],
  plugboard: [["--port", "1"], ["extra"]],
  init: [["--bogus", "x"], ["a", "b"], []],
  dev: [["--port", "1"], ["extra"]],
  build: [["--watch"], ["extra"]],
  start: [["--port", "1"], ["extra"]],
} as const;

/** `vera-service <tool> …` as this repository's scripts run it (migrate and roles on dist/app). */
function run(tool: keyof typeof TOOLS, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // init and build have no script here (this repository's build is scripts/build.mjs): the command itself.
  const command = tool === "init" || tool === "build" ? [path.join(DIST, "src/cli/main.js"), tool, ...args] : cliArgs(tool, ...args);
  return runNode(command, { PLUGBOARD_PORT: "0", ...env });
}

const tables = async (database: FreshDatabase) =>
  (await sql<{ n: number }>`select count(*)::int as n from pg_tables where schemaname = 'public'`.execute(database.db)).rows[0]!.n;

test("migrate: a misspelt, short or valued --check is refused with exit 2 and nothing is written", async () => {
  const database = await createTestDatabase({ migrate: false });
  try {
    for (const args of [["--chek"], ["-c"], ["--check=true"], ["check"], ["--check", "now"]]) {
      const result = await run("migrate", args, { DATABASE_URL: database.url });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /usage: vera-service migrate/, args.join(" "));
      assert.equal(result.stdout, "", "nothing said about a database: nothing was opened");
    }
    assert.equal(await tables(database), 0, "no table was created");
    const checked = await run("migrate", ["--check"], { DATABASE_URL: database.url });
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /^checking postgres:\/\/[^\n]+ \(DATABASE_URL\); nothing will be changed\n/);
    assert.ok(!checked.stdout.includes(new URL(database.url).password || "\u0000"), "no password in the output");
    assert.equal(await tables(database), 0, "--check wrote nothing");
  } finally {
    await database.drop();
  }
});

test("every subcommand answers --help and -h with its usage (exit 0), and an unknown option or argument with exit 2", async () => {
  for (const [tool, refusals] of Object.entries(TOOLS) as Array<[keyof typeof TOOLS, readonly (readonly string[])[]]>) {
    for (const help of ["--help", "-h"]) {
      const result = await run(tool, [help], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
      assert.equal(result.code, 0, `${tool} ${help}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`usage: vera-service ${tool}`), `${tool} ${help}`);
    }
    for (const args of refusals) {
      const result = await run(tool, [...args], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
      assert.equal(result.code, 2, `${tool} ${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`usage: vera-service ${tool}`), `${tool} ${args.join(" ")}`);
    }
  }
});

test("vera-service alone, an unknown command or an option before the command: the usage and exit 2; --help and --version: exit 0", async () => {
  const bin = (args: string[]) => spawnSync(process.execPath, [path.join(DIST, "src/cli/main.js"), ...args], { encoding: "utf8", cwd: tmpdir() });
  for (const args of [[], ["strat"], ["--dir", "x", "start"]]) {
    const result = bin(args);
    assert.equal(result.status, 2, args.join(" "));
    assert.match(result.stderr, /usage: vera-service <command>/);
  }
  assert.match(bin(["--help"]).stdout, /^usage: vera-service <command>[^]*\n  init {8}[^]*\n  start {7}/);
  assert.match(bin(["--version"]).stdout, /^\d+\.\d+\.\d+\n$/);
});

test("migrate with nothing configured migrates the embedded database under DATA_DIR, and says so first", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "vera-migrate-"));
  const first = await run("migrate", [], { DATA_DIR: dataDir });
  assert.equal(first.code, 0, first.stderr);
  const lines = first.stdout.trim().split("\n");
  assert.equal(lines[0], `migrating the embedded database in ${path.join(dataDir, "postgres")} (no DATABASE_URL or POSTGRES_* set)`);
  assert.match(lines.at(-1)!, /^applied 11 migration\(s\): framework\/0001_events, [^]*, account\/0001_users, [^]*account\/0006_username_keys$/);
  const again = await run("migrate", ["--check"], { DATA_DIR: dataDir });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /schema up to date: nothing pending/);
});

test("a DATABASE_URL that is not a URL is named as such; an unreachable database is one plain line", async () => {
  const garbled = await run("roles", ["list"], { DATABASE_URL: "not a url" });
  assert.equal(garbled.code, 2);
  assert.match(garbled.stderr, /DATABASE_URL: cannot be parsed as a URL/);
  assert.ok(!garbled.stderr.includes("ENOTFOUND"));
  for (const tool of ["roles", "migrate"] as const) {
    const result = await run(tool, tool === "roles" ? ["list"] : [], { DATABASE_URL: "postgres://nobody:secret-pw@127.0.0.1:1/none" });
    assert.equal(result.code, 1, tool);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${tool}: ${result.stderr}`);
    assert.match(lines[0]!, /cannot reach postgres:\/\/nobody@127\.0\.0\.1:1\/none.*ECONNREFUSED/, tool);
    assert.ok(!result.stderr.includes("secret-pw") && !result.stderr.includes("    at "), `${tool}: no password, no stack`);
  }
});

test("dev mode serves HEALTH_PORT on 127.0.0.1 only; HEALTH_HOST says otherwise", async () => {
  const outside = Object.values(networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal)?.address;
  const serve = async (env: Record<string, string>) => {
    const port = await freePort();
    const service = startService({ HEALTH_PORT: String(port), PLUGBOARD_PORT: "0", ACTIONS_DIR: compiledFixtures("greet-only"), DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-health-")), ...env });
    // Up and healthy (joined to its dev plugboard): /healthz answers 503 until then.
    await until(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 30_000, "health port up and healthy");
    return { service, port };
  };
  const dev = await serve({});
  try {
    if (outside) await assert.rejects(fetch(`http://${outside}:${dev.port}/healthz`), "not reachable from another interface");
  } finally {
    dev.service.kill("SIGKILL");
  }
  if (!outside) return;
  const open = await serve({ HEALTH_HOST: "0.0.0.0" });
  try {
    assert.equal((await fetch(`http://${outside}:${open.port}/healthz`)).status, 200);
  } finally {
    open.service.kill("SIGKILL");
  }
});
