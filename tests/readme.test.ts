/**
 * The README's promises, kept: every command it shows is a package.json script run by a test
 * or by .ci/run, its curl example registers through POST /, its example action is
 * examples/Greet.ts and answers, `npm run migrate` migrates, and its configuration table matches
 * src/config.ts.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { sql } from "kysely";
import { App } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/ops/logger.ts";
import { METRIC_NAMES } from "../src/ops/metrics.ts";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { until } from "./support/consumer.ts";
import { startTestKit } from "vera-service/testing";
import { configVariables } from "./support/variables.ts";

const README = readFileSync("README.md", "utf8");
const PACKAGE = JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> };
const read = (file: string) => readFileSync(file, "utf8");
const silent = createLogger({ level: "silent" });

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** The fenced code blocks of one language. */
function codeBlocks(language: string): string[] {
  return [...README.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

/** The entry file of a `node [flags] <file>` script (compiled ones exist once built: tests/run.ts builds). */
function entryOf(script: string): string {
  const file = PACKAGE.scripts[script]?.split(/\s+/).find((word) => /\.(m?js|ts)$/.test(word));
  assert.ok(file && existsSync(file), `npm run ${script} starts an existing file (${file})`);
  return file;
}

/** Where each npm command the README shows is exercised; a new command must be added here. */
const EXERCISED: Record<string, () => void> = {
  "npm install": () => assert.match(read(".ci/run"), /npm ci\b/, ".ci/run installs the packages from the lockfile"),
  "npm test": () => assert.match(read(".ci/run"), /^npm test$/m, ".ci/run runs npm test"),
  // tests/support/process.ts starts the same command, read from package.json (devmode, process,
  // health, explorer tests use it), and it is the image's CMD (tests/deploy-files.test.ts).
  "npm start": () => {
    assert.match(entryOf("start"), /^dist\/.*\.js$/, "the compiled entry");
    assert.match(read("tests/support/build.ts"), /scripts\.start/);
    assert.match(read("tests/support/process.ts"), /startCommand\(\)/);
  },
  "npm run typecheck": () => assert.match(PACKAGE.scripts.test!, /^tsc --noEmit && /, "npm test type-checks first (tests/types/ included)"),
  "npm run build": () => assert.match(read("tests/support/build.ts"), /scripts\/build\.mjs/, "tests/run.ts builds through it"),
  "npm run dev": () => {
    assert.ok(read("tests/support/process.ts").includes('["run", "dev"]'), "tests/support/process.ts startNpmDev runs it");
    assert.ok(read("tests/devmode.test.ts").includes("startNpmDev(") && read("tests/dev-loop.test.ts").includes("startNpmDev("), "tests/devmode.test.ts and tests/dev-loop.test.ts use it");
  },
  // tests/support/build.ts cliArgs reads the script's command from package.json.
  "npm run plugboard": () => assert.ok(read("tests/devmode.test.ts").includes('cliArgs("plugboard"'), "tests/devmode.test.ts runs it"),
  "npm run migrate": () => assert.ok(read("tests/readme.test.ts").includes('["run", "migrate"]'), "this file runs it"),
  // The benchmarks print figures rather than pass or fail; their scripts must at least exist.
  "npm run bench": () => entryOf("bench"),
  "npm run soak": () => entryOf("soak"),
  "npm run client": () => assert.ok(read("tests/client.test.ts").includes('cliArgs("client"'), "tests/client.test.ts runs it"),
  "npm run roles": () => assert.ok(read("tests/roles-command.test.ts").includes('cliArgs("roles"'), "tests/roles-command.test.ts runs it"),
};

test("the README's test of a custom action is examples/Welcome.test.ts, which npm test runs", () => {
  const blocks = [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.includes(read("examples/Welcome.test.ts")), "the README shows examples/Welcome.test.ts as it is");
  assert.match(read("tests/run.ts"), /examples\/\*\*\/\*\.test\.ts/);
});

test("every npm command in the README is a package.json script, exercised by a test or by .ci/run", () => {
  const commands = new Set([...README.matchAll(/\bnpm (install|start|test|run [a-z][a-z-]*)\b/g)].map((m) => `npm ${m[1]}`));
  assert.ok(commands.has("npm start") && commands.has("npm test"), "the two commands");
  for (const command of commands) {
    const script = command.replace(/^npm (run )?/, "");
    if (script !== "install") assert.ok(PACKAGE.scripts[script], `package.json has the script of ${command}`);
    const check = EXERCISED[command];
    assert.ok(check, `${command} is in the README: say in tests/readme.test.ts where it is exercised`);
    check();
  }
  // Docker cannot run here; tests/deploy-files.test.ts checks the files these commands use.
  for (const [, service] of README.matchAll(/docker compose up [^\n]*--scale ([a-z-]+)=\d+/g)) {
    assert.match(read("docker-compose.yml"), new RegExp(`^  ${service}:$`, "m"), `docker-compose.yml has the service ${service}`);
  }
  assert.match(README, /cp \.env\.example \.env/);
  assert.ok(existsSync(".env.example"));
  assert.match(README, /bash \.ci\/run/);
  assert.ok(existsSync(".ci/run"));
  // `npm test -- <file>` passes the files on to tests/run.ts.
  assert.match(PACKAGE.scripts.test!, /tests\/run\.ts$/);
  assert.match(read("tests/run.ts"), /process\.argv\.slice\(2\)/);
});

test("the curl example: the same request through the dev plugboard's POST / registers (201)", async () => {
  const example = codeBlocks("sh").flatMap((block) => block.split("\n")).find((line) => line.startsWith("curl "));
  assert.ok(example, "the README has a curl example");
  const body = /-d '([^']+)'/.exec(example)?.[1];
  assert.ok(body, "with a -d body");
  assert.match(example, /localhost:4000/, "against npm start's default port");
  assert.match(example, /-H 'content-type: application\/json'/i, "as JSON: the board refuses other bodies with 415");

  // `npm start` with nothing configured, in-process: the dev plugboard and the service, on a
  // fresh test database (tests/devmode.test.ts runs the embedded one).
  const database: FreshDatabase = await createTestDatabase();
  cleanups.push(() => database.drop());
  const config = loadConfig({
    NODE_ENV: "test",
    // npm start's app (--dir dist/app), from its sources.
    APP_DIR: "app",
    PLUGBOARD_PORT: "0",
    DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-readme-")),
    BCRYPT_COST: "4",
    DATABASE_URL: database.url,
  });
  const app = await App.start({ config, log: silent });
  cleanups.push(() => app.stop());
  const board = app.board!;
  await until(() => app.client.isJoined, 10_000, "the join");

  let answer: { status_code: number; message: string; fields: { jwt?: unknown } | null };
  if (await hasCurl()) {
    // The README's command itself, pointed at this board's port.
    const command = example.replace("localhost:4000", `127.0.0.1:${board.port}`);
    const { stdout } = await promisify(execFile)("sh", ["-c", command]);
    answer = JSON.parse(stdout) as typeof answer;
  } else {
    const response = await fetch(board.url, { method: "POST", headers: { "content-type": "application/json" }, body });
    answer = (await response.json()) as typeof answer;
  }
  assert.equal(answer.status_code, 201, answer.message);
  assert.equal(answer.message, "User registered successfully");
  assert.equal(typeof answer.fields?.jwt, "string");
});

test("the Write-an-action example is examples/Greet.ts, and it answers", async () => {
  const example = codeBlocks("ts").find((block) => block.includes("class Greet"));
  assert.ok(example, "the README has the Greet example");
  const file = read("examples/Greet.ts");
  assert.ok(file.endsWith(example), "the README shows examples/Greet.ts (after its header comment)");

  const { Greet } = await import("../examples/Greet.ts");
  const kit = await startTestKit({ actions: [Greet] });
  try {
    const answer = await kit.call("Greet", { name: "Ada" });
    assert.deepEqual(answer, { status: "success", status_code: 200, message: "Greeted", fields: { greeting: "Hello, Ada!" } });
  } finally {
    await kit.close();
  }
});

test("`npm run migrate` migrates a fresh database and exits 0", async () => {
  const database = await createTestDatabase({ migrate: false });
  cleanups.push(() => database.drop());
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const child = spawn(npm, ["run", "migrate"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database.url, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(code, 0, output);
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = 'public' and table_name in ('users', 'revocations')
    order by table_name`.execute(database.db);
  assert.deepEqual(rows.map((r) => r.table_name), ["revocations", "users"]);
});

test("the README lists exactly the metrics src/ops/metrics.ts exports", () => {
  // Every `vera_…` name but the migrations' bookkeeping tables (`vera_app_migration` …).
  const documented = new Set([...README.matchAll(/`(vera_[a-z_]+)/g)].map((m) => m[1]!).filter((name) => !name.endsWith("_migration")));
  assert.deepEqual([...documented].sort(), Object.values(METRIC_NAMES).sort());
});

test("the configuration table names exactly the variables the service reads (src/config.ts, account/settings.ts)", () => {
  const known = configVariables();
  const section = README.slice(README.indexOf("## Configuration"), README.indexOf("\n## ", README.indexOf("## Configuration") + 3));
  const documented = new Set<string>();
  for (const row of section.split("\n").filter((l) => l.startsWith("| `"))) {
    const cell = row.split("|")[1]!;
    let prefix = "";
    for (const [, name] of cell.matchAll(/`([A-Z_][A-Z0-9_]*)`/g)) {
      // `POSTGRES_HOST` / `_PORT`: a leading underscore continues the first name's prefix.
      if (name!.startsWith("_")) documented.add(prefix + name!.slice(1));
      else {
        documented.add(name!);
        prefix = name!.slice(0, name!.indexOf("_") + 1);
      }
    }
  }
  for (const name of documented) assert.ok(known.has(name), `the README documents ${name}, which the service does not read`);
  // NODE_ENV is the platform's, mentioned where it matters (BCRYPT_COST).
  const undocumented = [...known].filter((name) => !documented.has(name) && name !== "NODE_ENV");
  assert.deepEqual(undocumented, [], "every variable the service reads has a row in the README's configuration table");
  assert.ok(documented.has("HEALTH_PORT"));
});

async function hasCurl(): Promise<boolean> {
  try {
    await promisify(execFile)("curl", ["--version"]);
    return true;
  } catch {
    return false;
  }
}
