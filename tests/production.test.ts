/**
 * Production fails fast, as the compiled service (`npm start`'s command) runs: NODE_ENV=production
 * without WEBSOCKET_URL is refused (exit 2) instead of starting the dev plugboard; an action file
 * that fails to import, a duplicate action name, or no action at all stops the start (exit 1), one
 * line each; and a production process never loads the dev plugboard's code (nor any TypeScript):
 * a module loader hook records every module the process loads.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { DevPlugboard } from "../src/devboard/server.ts";
import { DIST } from "./support/build.ts";
import { compiledFixtures, serviceDatabaseEnv, startService, type ServiceProcess } from "./support/process.ts";
import { recordingModules } from "./support/loaded-modules.ts";
import { EXIT_CODE } from "../src/ops/exit-codes.ts";

const SECRET = "production-test-secret-at-least-32-bytes";
const boards: DevPlugboard[] = [];
const processes: ServiceProcess[] = [];
after(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
  await Promise.all(boards.map((b) => b.stop()));
});

const tempDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

/** A production configuration against a board that is never dialled (the start stops before). */
function production(env: Record<string, string>): ServiceProcess {
  const service = startService({
    NODE_ENV: "production",
    WEBSOCKET_URL: "ws://127.0.0.1:9/websocket",
    TOKEN: "production-test-token",
    JWT_SECRET: SECRET,
    DATA_DIR: tempDir("vera-prod-"),
    LOG_LEVEL: "info",
    ...env,
  });
  processes.push(service);
  return service;
}

/** The fatal lines of a process that exited, and its exit code. */
async function fatalLines(service: ServiceProcess): Promise<{ code: number | null; fatal: string[] }> {
  const { code } = await service.exited;
  return { code, fatal: service.lines().filter((l) => l.level === "fatal").map((l) => String(l.msg)) };
}

/** An actions folder of plain JavaScript files extending the compiled Action class. */
function actionsDir(files: Record<string, string>): string {
  const dir = tempDir("vera-prod-actions-");
  const action = pathToFileURL(path.join(DIST, "src/actions/action.js")).href;
  const responses = pathToFileURL(path.join(DIST, "src/actions/responses.js")).href;
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), `import { Action } from "${action}";\nimport { ok } from "${responses}";\n${body}\n`);
  }
  return dir;
}

const action = (name: string) => `export class ${name} extends Action { run() { return ok("ran"); } }`;

test("NODE_ENV=production without WEBSOCKET_URL refuses to start: exit 2, one line naming WEBSOCKET_URL", async () => {
  const service = startService({ NODE_ENV: "production", DATA_DIR: tempDir("vera-prod-"), PLUGBOARD_PORT: "0", LOG_LEVEL: "info" });
  processes.push(service);
  const { code, fatal } = await fatalLines(service);
  assert.equal(code, EXIT_CODE.config);
  assert.deepEqual(fatal, ["configuration: WEBSOCKET_URL: required when NODE_ENV=production (without it the service would run the dev plugboard)"]);
  assert.ok(!service.lines().some((l) => /dev mode|dev plugboard ready/.test(String(l.msg))), "no dev plugboard started");
});

test("production: an action file that fails to import stops the start with one line naming it", async () => {
  const dir = actionsDir({ "Good.mjs": action("Good"), "Broken.mjs": 'import "./no-such-helper.mjs";' });
  const { code, fatal } = await fatalLines(production({ ACTIONS_DIR: dir }));
  assert.equal(code, EXIT_CODE.failed);
  assert.equal(fatal.length, 1, fatal.join("\n"));
  assert.match(fatal[0]!, /^could not start: action file .*Broken\.mjs failed to import: .*no-such-helper\.mjs/);
});

test("production: a TypeScript actions folder (not compiled) stops the start, saying to build it", async () => {
  const { code, fatal } = await fatalLines(production({ ACTIONS_DIR: "tests/fixtures/source-actions" }));
  assert.equal(code, EXIT_CODE.failed);
  assert.equal(fatal.length, 1, fatal.join("\n"));
  // Node 20 cannot import .ts at all (the line says to build); a Node that strips types imports it,
  // but against the sources' Action class, not the compiled one: nothing there is an action.
  const typeStripping = (process.features as { typescript?: unknown }).typescript;
  assert.match(fatal[0]!, typeStripping ? /^could not start: (action file .*Other\.ts failed to import|no actions found in tests\/fixtures\/source-actions)/ : /^could not start: action file tests\/fixtures\/source-actions\/Other\.ts failed to import: .*npm run build/);
});

test("production: a duplicate action name stops the start with one line naming both files", async () => {
  const dir = actionsDir({ "One.mjs": action("Same"), "Two.mjs": action("Same") });
  const { code, fatal } = await fatalLines(production({ ACTIONS_DIR: dir }));
  assert.equal(code, EXIT_CODE.failed);
  assert.equal(fatal.length, 1, fatal.join("\n"));
  assert.match(fatal[0]!, /^could not start: Duplicate action name "Same" in .*One\.mjs and .*Two\.mjs$/);
});

test("production: no action at all stops the start with one line", async () => {
  const { code, fatal } = await fatalLines(production({ ACTIONS_DIR: tempDir("vera-prod-empty-") }));
  assert.equal(code, EXIT_CODE.failed);
  assert.equal(fatal.length, 1, fatal.join("\n"));
  assert.match(fatal[0]!, /^could not start: no actions found in .* \(ACTIONS_DIR\)/);
});

test("dev mode: the same broken and duplicate files are warnings, and the service starts", async () => {
  const dir = actionsDir({ "Good.mjs": action("Good"), "Broken.mjs": 'import "./no-such-helper.mjs";', "Again.mjs": action("Good") });
  const service = startService({ PLUGBOARD_PORT: "0", DATA_DIR: tempDir("vera-dev-"), ACTIONS_DIR: dir, LOG_LEVEL: "info", ...(await serviceDatabaseEnv()) });
  processes.push(service);
  await service.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
  const warnings = service.lines().filter((l) => l.level === "warn").map((l) => String(l.msg));
  assert.ok(warnings.includes("skipped action file: it failed to import"), warnings.join("\n"));
  assert.ok(warnings.some((w) => /Duplicate action name "Good"/.test(w)), warnings.join("\n"));
  service.kill("SIGTERM");
  assert.equal((await service.exited).code, EXIT_CODE.ok);
});

test("a production process loads no module of src/devboard/ and no TypeScript; a dev one does load the board", async () => {
  const board = await DevPlugboard.start();
  boards.push(board);
  const prod = recordingModules({
    NODE_ENV: "production",
    WEBSOCKET_URL: board.socketUrl,
    TOKEN: board.token,
    JWT_SECRET: SECRET,
    ACTIONS_DIR: compiledFixtures("actions"),
    DATA_DIR: tempDir("vera-prod-"),
    BCRYPT_COST: "10",
    LOG_LEVEL: "info",
    ...(await serviceDatabaseEnv()),
  });
  processes.push(prod.service);
  await prod.service.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
  assert.equal((await board.request("Echo", { text: "hi" })).status, 200);
  const loaded = prod.loaded();
  assert.ok(loaded.some((url) => url.endsWith("/dist/src/cli/serve.js")), "the hook saw the service's entry");
  assert.deepEqual(loaded.filter((url) => /\/dist\/src\/cli\/(dev|build|init|migrate)\.js$/.test(url)), [], "no other subcommand of vera-service");
  assert.ok(loaded.some((url) => url.endsWith("/dist/src/plugboard/client.js")));
  assert.deepEqual(loaded.filter((url) => url.includes("/devboard/")), [], "no dev plugboard module");
  assert.deepEqual(loaded.filter((url) => /\.[mc]?tsx?$/.test(url) || /\/node_modules\/(tsx|typescript|esbuild)\//.test(url)), [], "no TypeScript, no loader");
  prod.service.kill("SIGTERM");
  assert.equal((await prod.service.exited).code, EXIT_CODE.ok);

  // The control: the same hook sees the board's modules when there is no WEBSOCKET_URL.
  const dev = recordingModules({ PLUGBOARD_PORT: "0", DATA_DIR: tempDir("vera-dev-"), LOG_LEVEL: "info", ...(await serviceDatabaseEnv()) });
  processes.push(dev.service);
  await dev.service.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
  assert.ok(dev.loaded().some((url) => url.endsWith("/dist/src/devboard/server.js")));
  dev.service.kill("SIGTERM");
  assert.equal((await dev.service.exited).code, EXIT_CODE.ok);
});
