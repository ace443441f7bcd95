/**
 * Bursts of real users against the service as a process (`npm start`'s command, production
 * mode behind a dev plugboard): an ordinary burst of sign-ups or sign-ins is queued and served,
 * never refused; a flood is refused at once beyond what bcrypt can do in time, and a real user
 * still gets in; a login cut by a role revoked meanwhile still gets its token.
 * The lane that counted places (one per thread plus two waiting) answered 503 to all but 6 of
 * each burst here.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DevPlugboard } from "../src/devboard/server.ts";
import { freePort } from "../src/net.ts";
import { createDatabase } from "../src/db/database.ts";
import { createLogger } from "../src/ops/logger.ts";
import { Roles } from "../account/roles.ts";
import type { Database } from "../account/schema.ts";
import { serviceDatabaseEnv, startService, type ServiceProcess } from "./support/process.ts";
import { until } from "./support/consumer.ts";
import { sample } from "./support/metrics.ts";

const boards: DevPlugboard[] = [];
const processes: ServiceProcess[] = [];
after(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
  await Promise.all(boards.map((b) => b.stop()));
});

async function serve(env: Record<string, string>) {
  const board = await DevPlugboard.start({ requestTimeoutMs: 30_000 });
  boards.push(board);
  const healthPort = await freePort();
  const database = await serviceDatabaseEnv();
  const service = startService({
    WEBSOCKET_URL: board.socketUrl,
    TOKEN: board.token,
    JWT_SECRET: "burst-test-secret-that-is-at-least-32-bytes",
    DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-bursts-")),
    HEALTH_PORT: String(healthPort),
    LOG_LEVEL: "warn",
    LOGIN_MAX_FAILURES: "1000000",
    ...database,
    ...env,
  });
  processes.push(service);
  await until(async () => (await fetch(`http://127.0.0.1:${healthPort}/healthz`).catch(() => undefined))?.status === 200, 30_000, "the service joined");
  const metrics = async () => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  return { board, service, database: database.DATABASE_URL!, metrics };
}

const statuses = (answers: Array<{ status: number }>) => {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
};

test("60 Registers of distinct users at once: 60 × 201; then 40 Logins of real users at once: 40 × 200", async () => {
  const { board } = await serve({ BCRYPT_COST: "4" });
  const registers = await Promise.all(
    Array.from({ length: 60 }, (_, i) => board.request("Register", { name: `Burst ${i}`, username: `burst-${i}`, password: "correct horse" })),
  );
  assert.deepEqual(statuses(registers), { 201: 60 });
  const logins = await Promise.all(Array.from({ length: 40 }, (_, i) => board.request("Login", { username: `burst-${i}`, password: "correct horse" })));
  assert.deepEqual(statuses(logins), { 200: 40 });
});

test("a flood of 600 unknown-user logins: what fits in BCRYPT_MAX_WAIT_MS is served, the rest is 503, cheap calls never fail, a real user retrying gets in", async () => {
  // The default wait bound (10 s): what fits in it depends on how fast bcrypt runs here now.
  const { board } = await serve({ BCRYPT_COST: "10" });
  const registered = await board.request("Register", { name: "Real", username: "real-user", password: "correct horse" });
  assert.equal(registered.status, 201);
  const token = (registered.body as { fields: { jwt: string } }).fields.jwt;

  let flooding = true;
  const cheap: number[] = [];
  const watcher = (async () => {
    for (let i = 0; flooding; i++) cheap.push((await board.request(i % 2 ? "Jwks" : "Verify", i % 2 ? {} : { jwt: token })).status);
  })();
  const flood = Array.from({ length: 600 }, (_, i) => board.request("Login", { username: `nobody-${i}`, password: "flood-password" }));
  // A person who keeps trying every half second while the flood is on.
  let tries = 0;
  let signedIn = false;
  const person = (async () => {
    while (!signedIn && tries < 60) {
      tries++;
      const answer = await board.request("Login", { username: "real-user", password: "correct horse" });
      if (answer.status === 200) signedIn = true;
      else {
        assert.equal(answer.status, 503, JSON.stringify(answer.body));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  })();
  const answers = await Promise.all(flood);
  await person;
  flooding = false;
  await watcher;

  const counts = statuses(answers);
  assert.deepEqual(Object.keys(counts).sort(), ["404", "503"], JSON.stringify(counts));
  // At cost 10 a comparison takes about 0.1 s on two threads (up to about 1 s on a machine busy
  // with other work): 10 s of expected wait holds 20 to 200 of them; a lane that counted places served 6.
  assert.ok(counts[404]! >= 12, `served ${counts[404]} of the flood within 10 s of expected wait`);
  assert.ok(signedIn, `the real user got in (${tries} tries)`);
  assert.ok(cheap.length > 10 && cheap.every((s) => s === 200), `cheap calls during the flood: ${JSON.stringify(statuses(cheap.map((status) => ({ status }))))}`);
});

test("logins in flight while a role of the account is revoked: each gets a token, signed after the revocation, without the role", async () => {
  const { board, database, metrics } = await serve({ BCRYPT_COST: "8", BCRYPT_THREADS: "1", BCRYPT_QUEUE: "100" });
  const registered = await board.request("Register", { name: "Editor", username: "editor", password: "correct horse" });
  assert.equal(registered.status, 201);
  const db = createDatabase<Database>({ url: database }, createLogger({ level: "silent" }));
  try {
    const roles = new Roles(db);
    await roles.define("editor", ["posts:edit"]);
    const { id } = await db.selectFrom("users").select("id").where("username", "=", "editor").executeTakeFirstOrThrow();
    assert.equal(await roles.grant(id, "editor", null), "granted");

    const logins = Array.from({ length: 40 }, () => board.request("Login", { username: "editor", password: "correct horse" }));
    // The revocation lands while most of them wait for bcrypt (one thread: they go one by one).
    await until(async () => (sample(await metrics(), `vera_lane_queue_length{lane="bcrypt"}`) ?? 0) >= 20, 10_000, "logins waiting for bcrypt");
    assert.equal(await roles.revoke(id, "editor", null), "revoked");
    const answers = await Promise.all(logins);
    assert.deepEqual(statuses(answers), { 200: 40 }, JSON.stringify(answers.find((a) => a.status !== 200)?.body));
    const last = (answers.at(-1)!.body as { fields: { jwt: string } }).fields.jwt;
    const verified = await board.request("Verify", { jwt: last });
    assert.equal((verified.body as { fields: { active: boolean } }).fields.active, true);
    assert.deepEqual(JSON.parse(Buffer.from(last.split(".")[1]!, "base64url").toString()).roles, []);
  } finally {
    await db.destroy();
  }
});
