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
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { DIST } from "./support/build.ts";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { compiledFixtures, startService } from "./support/process.ts";
import { freePort } from "../src/net.ts";
import { until } from "./support/consumer.ts";

const TOOLS = {
  migrate: "src/db/migrate-cli.js",
  roles: "account/roles-cli.js",
  client: "src/calls/client-cli.js",
  plugboard: "src/devboard/cli.js",
} as const;

function run(tool: keyof typeof TOOLS, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(DIST, TOOLS[tool]), ...args], {
    env: { PATH: process.env.PATH, NODE_ENV: "test", BCRYPT_COST: "4", PLUGBOARD_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

const tables = async (database: FreshDatabase) =>
  (await sql<{ n: number }>`select count(*)::int as n from pg_tables where schemaname = 'public'`.execute(database.db)).rows[0]!.n;

test("migrate: a misspelt, short or valued --check is refused with exit 2 and nothing is written", async () => {
  const database = await createTestDatabase({ migrate: false });
  try {
    for (const args of [["--chek"], ["-c"], ["--check=true"], ["check"], ["--check", "now"]]) {
      const result = await run("migrate", args, { DATABASE_URL: database.url });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /usage: npm run migrate/, args.join(" "));
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

test("every tool answers --help and -h with its usage (exit 0), and an unknown option or argument with exit 2", async () => {
  for (const tool of Object.keys(TOOLS) as Array<keyof typeof TOOLS>) {
    for (const help of ["--help", "-h"]) {
      const result = await run(tool, [help], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
      assert.equal(result.code, 0, `${tool} ${help}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`usage: npm run ${tool}`), `${tool} ${help}`);
    }
    const refusals: string[][] = { migrate: [["--force"]], roles: [["list", "--all"], ["--verbose", "list"]], client: [["x.json", "--output", "y"], ["a", "b"]], plugboard: [["--port", "1"], ["extra"]] }[tool];
    for (const args of refusals) {
      const result = await run(tool, args, { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
      assert.equal(result.code, 2, `${tool} ${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`usage: npm run ${tool}`), `${tool} ${args.join(" ")}`);
    }
  }
});

test("migrate with nothing configured migrates the embedded database under DATA_DIR, and says so first", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "vera-migrate-"));
  const first = await run("migrate", [], { DATA_DIR: dataDir });
  assert.equal(first.code, 0, first.stderr);
  const lines = first.stdout.trim().split("\n");
  assert.equal(lines[0], `migrating the embedded database in ${path.join(dataDir, "postgres")} (no DATABASE_URL or POSTGRES_* set)`);
  assert.match(lines.at(-1)!, /^applied \d+ migration\(s\): 0001_users, /);
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
    await until(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined)) !== undefined, 30_000, "health port up");
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
