/**
 * `npm run client` (src/calls/client-cli.ts, compiled, as the script runs it): a typed client
 * from published actions given as a JSON file, a running dev plugboard (any service it hosts)
 * or a folder of actions; the committed clients/vera-service.ts is what it makes of this
 * service's own actions; bad sources exit 1, usage mistakes 2.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { cliArgs, ROOT } from "./support/build.ts";
import { loadActions } from "../src/actions/registry.ts";
import { clientModule } from "../src/calls/client-code.ts";
import { DevPlugboard } from "../src/devboard/server.ts";
import { startConsumer, until, type TestConsumer } from "./support/consumer.ts";
import { createLogger } from "../src/ops/logger.ts";

const run = promisify(execFile);
const client = (...args: string[]) => run(process.execPath, cliArgs("client", ...args), { cwd: ROOT });
const exitCode = (...args: string[]) => client(...args).then(() => 0, (error: { code?: number }) => error.code);
const dir = mkdtempSync(path.join(tmpdir(), "vera-client-"));

const boards: DevPlugboard[] = [];
const consumers: TestConsumer[] = [];
after(async () => {
  await Promise.all(consumers.map((c) => c.stop()));
  await Promise.all(boards.map((b) => b.stop()));
});

test("clients/vera-service.ts is what npm run client makes of this service's actions (generate it again when they change)", async () => {
  const registry = await loadActions({ dir: path.join(ROOT, "app/actions"), log: createLogger({ level: "silent" }) });
  const expected = await clientModule(JSON.parse(registry.json), "vera-service");
  assert.equal(readFileSync(path.join(ROOT, "clients/vera-service.ts"), "utf8"), expected, "run: npm run client -- dist/app/actions --name vera-service --out clients/vera-service.ts");
});

test("from a JSON file of published actions: fields required and optional, a declared output, descriptions", async () => {
  const file = path.join(dir, "calc.json");
  writeFileSync(file, JSON.stringify({
    Add: {
      description: "Adds two numbers",
      fields: { a: { type: "number" }, b: { type: "number", description: "The second" }, note: { type: "string" } },
      required: ["a", "b"],
      output: { type: "object", properties: { sum: { type: "number" } }, required: ["sum"], additionalProperties: false },
    },
    Ping: { description: "", fields: {}, required: [] },
  }));
  const { stdout } = await client(file);
  assert.match(stdout, /export interface AddFields \{[^}]*a: number;[^}]*b: number;[^}]*note\?: string;/s);
  assert.match(stdout, /export interface AddResult \{\s*sum: number;\s*\}/);
  assert.match(stdout, /export type PingResult = Record<string, unknown> \| null;/);
  assert.match(stdout, /\/\*\* Adds two numbers \*\/\n {2}Add: \{ fields: AddFields; result: AddResult \};/);
  assert.match(stdout, /export function calc\(serviceId: string\): ServiceTarget<CalcActions> \{\n {2}return \{ serviceId, name: "calc" \};/);
});

test("from a running dev plugboard: the service named by ?service_id=, written to --out", async () => {
  const board = await DevPlugboard.start();
  boards.push(board);
  const other = board.addService({ name: "other" });
  consumers.push(await startConsumer({ url: board.socketUrl, token: other.token }));
  await until(() => board.services()[1]!.joinedConsumers === 1);
  const out = path.join(dir, "other.ts");
  await client(`${board.url}/actions?service_id=${other.id}`, "--name", "other", "--out", out);
  const code = readFileSync(out, "utf8");
  assert.match(code, /export interface OtherActions \{/);
  assert.match(code, /Echo: \{ fields: EchoFields; result: EchoResult \};/);
  // The first service has no consumer: nothing published, a clear failure.
  const failed = await client(board.url).catch((error: { code: number; stderr: string }) => error);
  assert.equal((failed as { code: number }).code, 1);
  assert.match((failed as { stderr: string }).stderr, /no consumer of that service has joined/);
});

test("bad sources exit 1, usage mistakes 2", async () => {
  const notJson = path.join(dir, "bad.json");
  writeFileSync(notJson, "{nope");
  assert.equal(await exitCode(notJson), 1);
  const notActions = path.join(dir, "list.json");
  writeFileSync(notActions, "[1, 2]");
  assert.equal(await exitCode(notActions), 1);
  assert.equal(await exitCode(path.join(dir, "missing.json")), 1);
  assert.equal(await exitCode(), 2);
  assert.equal(await exitCode(notJson, "extra"), 2);
  assert.equal(await exitCode(notJson, "--unknown"), 2);
});
