/**
 * The README's first command: `npm start` with nothing configured runs the dev plugboard in
 * the same process, on the embedded database, and serves the account actions through POST /.
 * And `npm run plugboard` alone, for several local consumers.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { compiledFixtures, startNpmDev, startService, type ServiceProcess } from "./support/process.ts";
import { cliArgs, ROOT } from "./support/build.ts";
import { startConsumer, until, type TestConsumer } from "./support/consumer.ts";
import { EXIT_CODE } from "../src/ops/exit-codes.ts";

const processes: ServiceProcess[] = [];
const consumers: TestConsumer[] = [];
const dataDirs: string[] = [];
after(async () => {
  await Promise.all(consumers.map((c) => c.stop()));
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
  // A failed test must not leave its PostgreSQL behind.
  for (const dir of dataDirs) for (const pid of postgresOn(dir)) process.kill(pid, "SIGTERM");
});

async function devStart(dataDir: string, env: Record<string, string> = {}) {
  if (!dataDirs.includes(dataDir)) dataDirs.push(dataDir);
  const service = startService({ PLUGBOARD_PORT: "0", DATA_DIR: dataDir, BCRYPT_COST: "4", LOG_LEVEL: "info", ...env });
  processes.push(service);
  const ready = await service.waitForLine((l) => typeof l.explorer === "string", 60_000);
  await service.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
  return { service, url: String(ready.explorer) };
}

async function post(url: string, body: unknown) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { status: string; status_code: number; message: string; fields: Record<string, unknown> | null } };
}

test("npm start with nothing configured: dev plugboard + embedded database, events flowing to the app's subscribers and shown in the explorer; accounts survive a restart", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "vera-dev-"));
  // The app's subscribers: tests/fixtures/subscribers/, served from PostgreSQL (no REDIS_URL).
  const first = await devStart(dataDir, { SUBSCRIBERS_DIR: compiledFixtures("subscribers") });
  const line = first.service.lines().find((l) => typeof l.explorer === "string")!;
  assert.match(String(line.msg), /^dev mode: open http:\/\/127\.0\.0\.1:\d+/);
  // The curl it prints, sent as printed, is answered 200 (an action that needs no fields: Jwks).
  const curl = /curl -s (\S+) -H 'content-type: application\/json' -H 'authorization: (Bearer [^']+)' -d '([^']+)'/.exec(String(line.msg));
  assert.ok(curl, String(line.msg));
  const printed = await fetch(curl[1]!, { method: "POST", headers: { "content-type": "application/json", authorization: curl[2]! }, body: curl[3]! });
  assert.equal(printed.status, 200, `${curl[3]} → ${await printed.clone().text()}`);
  assert.equal((JSON.parse(curl[3]!) as { action: string }).action, "Jwks");

  const registered = await post(first.url, { action: "Register", fields: { name: "Ada", username: "ada", password: "correct horse" } });
  assert.equal(registered.status, 201);
  assert.equal(registered.body.status, "success");
  assert.equal(typeof registered.body.fields?.jwt, "string");
  const mailed = await first.service.waitForLine((l) => l.msg === "welcome mail sent");
  assert.equal(mailed.username, "ada");
  const page = await fetch(first.url);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /Register/);
  // The latest events: the registration, published, handled by the subscriber; no secret on the page.
  const events = html.slice(html.indexOf('<section id="events">'));
  assert.match(events, /<td><code>user\.registered<\/code><\/td><td>user:1<\/td><td>[^<]+<\/td><td>published<\/td><td>welcome-mail<\/td>/);
  assert.ok(!html.includes("correct horse") && !html.includes(String(registered.body.fields!.jwt)));

  assert.equal(embeddedLine(first.service).how, "created");
  first.service.kill("SIGTERM");
  assert.equal((await first.service.exited).code, EXIT_CODE.ok);
  assert.equal(alive(embeddedLine(first.service).pid), false, "stopping the service stopped the PostgreSQL it started");

  const second = await devStart(dataDir);
  assert.equal(embeddedLine(second.service).how, "started");
  const login = await post(second.url, { action: "Login", fields: { username: "ada", password: "correct horse" } });
  assert.equal(login.status, 200);
  // The development JWT secret was kept too: the first run's token still verifies.
  const logout = await post(second.url, { action: "Logout", fields: { jwt: registered.body.fields!.jwt } });
  assert.equal(logout.status, 200);
  second.service.kill("SIGTERM");
  assert.equal((await second.service.exited).code, EXIT_CODE.ok);
});

/** The embedded database's start line: how it opened (created, started, joined) and PostgreSQL's pid. */
function embeddedLine(service: ServiceProcess): { how: string; pid: number; port: number; ms: number } {
  const line = service.lines().find((l) => typeof l.msg === "string" && l.msg.startsWith("embedded PostgreSQL") && typeof l.how === "string");
  assert.ok(line, `no embedded PostgreSQL line in:\n${service.output().slice(-2000)}`);
  return line as unknown as { how: string; pid: number; port: number; ms: number };
}

/** Whether a process still runs (a zombie does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

/** The postgres servers running on this DATA_DIR's cluster (by their command line in /proc). */
function postgresOn(dataDir: string): number[] {
  const cluster = path.join(dataDir, "postgres", "data");
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(cluster) && alive(Number(pid));
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function stop(service: ServiceProcess) {
  service.kill("SIGTERM");
  assert.equal((await service.exited).code, EXIT_CODE.ok, service.output().slice(-2000));
}

const account = (username: string) => ({ name: username, username, password: "correct horse" });
const credentials = (username: string) => ({ username, password: "correct horse" });

test("two processes on one DATA_DIR share the embedded database; the last one to stop stops it", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "vera-dev-"));
  // Both at once on an empty DATA_DIR: one creates and starts the server, the other waits and joins it.
  let [first, second] = await Promise.all([devStart(dataDir), devStart(dataDir)]);
  if (embeddedLine(first.service).how === "joined") [first, second] = [second, first];
  const opened = embeddedLine(first.service);
  assert.equal(opened.how, "created");
  const joined = embeddedLine(second.service);
  assert.deepEqual([joined.how, joined.pid, joined.port], ["joined", opened.pid, opened.port]);
  assert.deepEqual(postgresOn(dataDir), [opened.pid]);

  // Both serve, on the same data.
  assert.equal((await post(first.url, { action: "Register", fields: account("ada") })).status, 201);
  assert.equal((await post(second.url, { action: "Login", fields: credentials("ada") })).status, 200);
  assert.equal((await post(second.url, { action: "Register", fields: account("bob") })).status, 201);
  assert.equal((await post(first.url, { action: "Login", fields: credentials("bob") })).status, 200);

  // The one that started it stops first: the server stays for the other.
  await stop(first.service);
  assert.ok(first.service.lines().some((l) => l.msg === "embedded PostgreSQL left running for the other processes using it"));
  assert.ok(alive(opened.pid));
  assert.equal((await post(second.url, { action: "Login", fields: credentials("ada") })).status, 200);

  // The last one stops it.
  await stop(second.service);
  assert.ok(second.service.lines().some((l) => l.msg === "embedded PostgreSQL stopped"));
  assert.equal(alive(opened.pid), false);
  assert.deepEqual(postgresOn(dataDir), [], "no postgres left on this DATA_DIR");
  assert.equal(existsSync(path.join(dataDir, "postgres", "data", "postmaster.pid")), false, "a clean shutdown");
});

test("kill -9: the next start joins the orphaned server, or starts it again when it died too; a stop leaves no postgres", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "vera-dev-"));
  const first = await devStart(dataDir);
  const opened = embeddedLine(first.service);
  assert.equal((await post(first.url, { action: "Register", fields: account("ada") })).status, 201);
  first.service.kill("SIGKILL");
  await first.service.exited;
  assert.ok(alive(opened.pid), "PostgreSQL outlives the node process that started it");

  // The orphan is reused, not a second server started over it.
  const second = await devStart(dataDir);
  assert.deepEqual([embeddedLine(second.service).how, embeddedLine(second.service).pid], ["joined", opened.pid]);
  assert.equal((await post(second.url, { action: "Login", fields: credentials("ada") })).status, 200);

  // Now the node process and PostgreSQL both die: a stale postmaster.pid stays behind.
  second.service.kill("SIGKILL");
  await second.service.exited;
  process.kill(opened.pid, "SIGKILL");
  await until(() => !alive(opened.pid), 10_000, "postgres gone");
  assert.ok(existsSync(path.join(dataDir, "postgres", "data", "postmaster.pid")));

  const third = await devStart(dataDir);
  const restarted = embeddedLine(third.service);
  assert.equal(restarted.how, "started");
  assert.notEqual(restarted.pid, opened.pid);
  assert.equal((await post(third.url, { action: "Login", fields: credentials("ada") })).status, 200, "the account survived the crash");
  await stop(third.service);
  assert.ok(third.service.lines().some((l) => l.msg === "embedded PostgreSQL stopped"));
  assert.equal(alive(restarted.pid), false);
  assert.deepEqual(postgresOn(dataDir), [], "no postgres left on this DATA_DIR");
});

test("npm run plugboard: the board alone prints its URL and token, and consumers join it", async () => {
  const child = spawn(process.execPath, cliArgs("plugboard"), {
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

test("npm run dev: the TypeScript sources under tsx, in dev mode, serving POST /", async () => {
  const dev = startNpmDev({ DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-devrun-")), BCRYPT_COST: "4" });
  try {
    await dev.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
    const explorer = String(dev.lines().find((l) => typeof l.explorer === "string")!.explorer);
    const answer = await post(explorer, { action: "Register", fields: { name: "Dev", username: "dev_run", password: "correct horse" } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    // The actions it loaded are the .ts sources, not dist/.
    const loaded = dev.lines().find((l) => l.msg === "actions loaded")!;
    assert.ok((loaded.actions as string[]).includes("Register"));
    assert.doesNotMatch(String(loaded.dir), /dist/);
  } finally {
    dev.kill();
  }
});

test("one Ctrl-C on npm run dev is one clean stop (the terminal signals the whole process group)", async () => {
  const dev = startNpmDev({ DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-devint-")), BCRYPT_COST: "4", ACTIONS_DIR: path.join(ROOT, "examples") });
  await dev.waitForLine((l) => l.msg === "joined the plugboard", 60_000);
  dev.kill("SIGINT"); // to the group: npm, its shell and the service, as a terminal's Ctrl-C
  await dev.exited;
  const said = dev.lines().map((l) => String(l.msg ?? l.raw ?? ""));
  assert.equal(said.filter((m) => m === "shutting down").length, 1, said.join("\n"));
  assert.ok(!said.some((m) => /stopping at once|second SIG/.test(m)), said.join("\n"));
  assert.ok(said.includes("stopped cleanly"), said.join("\n"));
});

