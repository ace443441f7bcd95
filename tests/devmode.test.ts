/**
 * The README's first command: `npm start` with nothing configured runs the dev plugboard in
 * the same process, on the embedded database, and serves the account actions through POST /.
 * And `npm run plugboard` alone, for several local consumers.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startService, type ServiceProcess } from "./support/process.ts";
import { ROOT } from "./support/build.ts";
import { startConsumer, until, type TestConsumer } from "./support/consumer.ts";

const processes: ServiceProcess[] = [];
const consumers: TestConsumer[] = [];
after(async () => {
  await Promise.all(consumers.map((c) => c.stop()));
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
});

async function devStart(dataDir: string) {
  const service = startService({ PLUGBOARD_PORT: "0", DATA_DIR: dataDir, BCRYPT_COST: "4", LOG_LEVEL: "info" });
  processes.push(service);
  const ready = await service.waitForLine((l) => typeof l.explorer === "string", 60_000);
  await service.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
  return { service, url: String(ready.explorer) };
}

async function post(url: string, body: unknown) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { status: string; status_code: number; message: string; fields: Record<string, unknown> | null } };
}

test("npm start with nothing configured: dev plugboard + embedded database; accounts survive a restart", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "vera-dev-"));
  const first = await devStart(dataDir);
  const line = first.service.lines().find((l) => typeof l.explorer === "string")!;
  assert.match(String(line.msg), /^dev mode: open http:\/\/127\.0\.0\.1:\d+/);

  const registered = await post(first.url, { action: "Register", fields: { name: "Ada", username: "ada", password: "correct horse" } });
  assert.equal(registered.status, 201);
  assert.equal(registered.body.status, "success");
  assert.equal(typeof registered.body.fields?.jwt, "string");
  const page = await fetch(first.url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Register/);

  first.service.kill("SIGTERM");
  assert.equal((await first.service.exited).code, 0);

  const second = await devStart(dataDir);
  const login = await post(second.url, { action: "Login", fields: { username: "ada", password: "correct horse" } });
  assert.equal(login.status, 200);
  // The development JWT secret was kept too: the first run's token still verifies.
  const logout = await post(second.url, { action: "Logout", fields: { jwt: registered.body.fields!.jwt } });
  assert.equal(logout.status, 200);
  second.service.kill("SIGTERM");
  assert.equal((await second.service.exited).code, 0);
});

test("a second instance on the same embedded database is refused with a clear line", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "vera-dev-"));
  const first = await devStart(dataDir);
  const second = startService({ PLUGBOARD_PORT: "0", DATA_DIR: dataDir, BCRYPT_COST: "4", LOG_LEVEL: "info" });
  processes.push(second);
  const { code } = await second.exited;
  assert.notEqual(code, 0);
  assert.ok(second.lines().some((l) => /another process \(pid \d+\) is using the embedded database/.test(JSON.stringify(l))));
  // The first one is unharmed.
  assert.equal((await post(first.url, { action: "Register", fields: { name: "B", username: "bob", password: "correct horse" } })).status, 201);
  first.service.kill("SIGTERM");
  assert.equal((await first.service.exited).code, 0);
});

test("npm run plugboard: the board alone prints its URL and token, and consumers join it", async () => {
  const child = spawn(process.execPath, [path.join(ROOT, "dist/src/devboard/cli.js")], {
    env: { PATH: process.env.PATH, PLUGBOARD_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  try {
    await until(() => out.includes("dev plugboard ready"), 15_000, "ready line");
    const ready = JSON.parse(out.split("\n").find((l) => l.includes("dev plugboard ready"))!) as { msg: string; websocket_url: string };
    const token = /TOKEN=(\S+)/.exec(ready.msg)![1]!;
    const consumer = await startConsumer({ url: ready.websocket_url, token });
    consumers.push(consumer);
    await until(() => consumer.client.isJoined, 5_000, "join");
    const answer = await post(ready.websocket_url.replace("ws://", "http://").replace("/websocket", "/"), { action: "Echo", fields: { text: "hi" } });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.fields, { text: "hi" });
  } finally {
    child.kill("SIGTERM");
  }
});

test("npm run dev: the TypeScript sources under tsx watch, in dev mode, serving POST /", async () => {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  // Its own process group: npm, tsx's watcher and the service are stopped together.
  const child = spawn(npm, ["run", "dev"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PLUGBOARD_PORT: "0", DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-devrun-")), BCRYPT_COST: "4", LOG_FORMAT: "json" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
  const lines = () => out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  try {
    await until(() => lines().some((l) => l.msg === "joined the plugboard"), 60_000, "npm run dev joined");
    const explorer = String(lines().find((l) => typeof l.explorer === "string")!.explorer);
    const answer = await post(explorer, { action: "Register", fields: { name: "Dev", username: "dev_run", password: "correct horse" } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    // The actions it loaded are the .ts sources, not dist/.
    const loaded = lines().find((l) => l.msg === "actions loaded")!;
    assert.ok((loaded.actions as string[]).includes("Register"));
    assert.doesNotMatch(String(loaded.dir), /dist/);
  } finally {
    process.kill(-child.pid!, "SIGTERM");
  }
});
