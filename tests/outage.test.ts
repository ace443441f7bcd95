/**
 * The database goes away: requests that need it answer 503 "Service unavailable" within a few
 * seconds (never a hang, never internals), requests that do not still answer, and service
 * resumes by itself when the database is back. On a private cluster this file stops and starts.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { sql } from "kysely";
import { createTestDatabase, findPostgresBinaries, startCluster, type Cluster, type FreshDatabase } from "./support/database.ts";
import { register, startAccounts, type Accounts } from "./support/accounts.ts";
import { createDatabase } from "../src/db/database.ts";
import { DependencyError } from "../src/actions/responses.ts";
import { createLogger } from "../src/ops/logger.ts";

const silent = createLogger({ level: "silent" });

describe("database outage and recovery", { skip: findPostgresBinaries() ? undefined : "no PostgreSQL binaries to start a private cluster" }, () => {
  let cluster: Cluster;
  let database: FreshDatabase;
  let accounts: Accounts;
  before(async () => {
    cluster = await startCluster();
    database = await createTestDatabase({ adminUrl: cluster.url });
    accounts = await startAccounts({ database });
  });
  after(async () => {
    await accounts?.close();
    await database?.db.destroy().catch(() => undefined);
    await cluster?.remove();
  });

  test("stopped → 503 within seconds; started again → 200 without restarting the service", async (t) => {
    const token = await register(accounts, { username: "survivor" });
    assert.equal((await accounts.dispatch("Login", { username: "survivor", password: "password123" })).status_code, 200);

    // A request holding a connection while the server goes away must not bring the process down.
    let finishHolding!: () => void;
    const holding = accounts.services.db.connection().execute(async (conn) => {
      await sql`select 1`.execute(conn);
      await new Promise<void>((resolve) => (finishHolding = resolve));
    });
    await new Promise((resolve) => setTimeout(resolve, 50));

    await cluster.stop();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the server's goodbye reaches the held client
    finishHolding();
    await holding;
    for (const [action, fields] of [
      ["Login", { username: "survivor", password: "password123" }],
      ["Register", { name: "x", username: "newcomer", password: "password123" }],
      ["Logout", { jwt: token }],
    ] as const) {
      const started = performance.now();
      const answer = await accounts.dispatch(action, fields);
      const elapsed = performance.now() - started;
      t.diagnostic(`${action} while the database is down: ${answer.status_code} after ${elapsed.toFixed(0)} ms`);
      assert.deepEqual([answer.status_code, answer.status, answer.message, answer.fields], [503, "error", "Service unavailable", null], action);
      assert.ok(elapsed < 5000, `${action} answered after ${elapsed} ms`);
    }
    // What needs no database still answers as usual.
    assert.equal((await accounts.dispatch("Logout", { jwt: "garbage" })).status_code, 401);
    assert.equal((await accounts.dispatch("Login", {})).status_code, 400);
    // The log has the cause; the caller got none of it.
    assert.ok(accounts.lines().some((l) => typeof l.msg === "string" && l.msg.startsWith("dependency unavailable")));

    await cluster.start();
    const started = performance.now();
    const answer = await accounts.dispatch("Login", { username: "survivor", password: "password123" });
    t.diagnostic(`first Login after the restart: ${answer.status_code} after ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(answer.status_code, 200);
    assert.equal((await accounts.dispatch("Logout", { jwt: token })).status_code, 200);
  });

  test("a statement past the statement timeout is a DependencyError", async () => {
    const db = createDatabase({ url: database.url, statementTimeoutMs: 200 }, silent);
    try {
      await assert.rejects(sql`select pg_sleep(2)`.execute(db), (error: unknown) => error instanceof DependencyError);
      // The pool is still usable afterwards.
      assert.deepEqual((await sql<{ one: number }>`select 1 as one`.execute(db)).rows, [{ one: 1 }]);
    } finally {
      await db.destroy();
    }
  });

  test("an exhausted pool is a DependencyError after the connect timeout, not a wait in line forever", async () => {
    const db = createDatabase({ url: database.url, poolMax: 1, connectTimeoutMs: 300 }, silent);
    try {
      let release!: () => void;
      const held = db.connection().execute(() => new Promise<void>((resolve) => (release = resolve)));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = performance.now();
      await assert.rejects(sql`select 1`.execute(db), (error: unknown) => error instanceof DependencyError);
      assert.ok(performance.now() - started < 2000);
      release();
      await held;
      assert.deepEqual((await sql<{ one: number }>`select 1 as one`.execute(db)).rows, [{ one: 1 }]);
    } finally {
      await db.destroy();
    }
  });

  test("constraint violations are not unavailability, and their details do not carry the row", async () => {
    const digest = "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm";
    await assert.rejects(database.db.insertInto("users").values({ name: "x", password_digest: digest }).execute(), (error: unknown) => {
      const { code, detail } = error as { code?: string; detail?: string };
      assert.ok(!(error instanceof DependencyError));
      assert.equal(code, "23514");
      assert.equal(detail, "Failing row contains (values withheld)");
      assert.ok(!JSON.stringify(error).includes(digest) && !String((error as Error).stack).includes(digest));
      return true;
    });
  });
});

describe("database unreachable", () => {
  let server: Server;
  let port = 0;
  const sockets = new Set<Socket>();
  before(async () => {
    // Accepts connections and never says a word: a server that hangs.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test("connection refused → DependencyError at once", async () => {
    const db = createDatabase({ url: "postgres://postgres@127.0.0.1:1/x" }, silent);
    try {
      const started = performance.now();
      await assert.rejects(sql`select 1`.execute(db), (error: unknown) => error instanceof DependencyError);
      assert.ok(performance.now() - started < 1000);
    } finally {
      await db.destroy();
    }
  });

  test("a server that never answers → DependencyError after the connect timeout, not a hang", async () => {
    const db = createDatabase({ url: `postgres://postgres@127.0.0.1:${port}/x`, connectTimeoutMs: 500 }, silent);
    try {
      const started = performance.now();
      await assert.rejects(sql`select 1`.execute(db), (error: unknown) => error instanceof DependencyError);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 400 && elapsed < 3000, `took ${elapsed} ms`);
    } finally {
      await db.destroy();
    }
  });
});
