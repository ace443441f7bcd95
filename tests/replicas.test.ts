/**
 * Five replicas of the service, as processes, start at once on an empty database: the
 * migrations run once, every replica joins and serves.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { DevPlugboard } from "../src/devboard/server.ts";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { startService, type ServiceProcess } from "./support/process.ts";

const processes: ServiceProcess[] = [];
let board: DevPlugboard | undefined;
let database: FreshDatabase | undefined;
after(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.kill("SIGKILL");
  await board?.stop();
  await database?.drop();
});

test("five replicas on an empty database: migrations once, all five serve", async () => {
  database = await createTestDatabase({ migrate: false });
  board = await DevPlugboard.start({});
  for (let i = 0; i < 5; i++) {
    processes.push(
      startService({
        WEBSOCKET_URL: board.socketUrl,
        TOKEN: board.token,
        JWT_SECRET: "replica-secret-replica-secret-replica-secret",
        DATABASE_URL: database.url,
        DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-replica-")),
        BCRYPT_COST: "4",
        BCRYPT_THREADS: "1",
        LOG_LEVEL: "info",
      }),
    );
  }
  await board.waitFor(() => board!.consumers().filter((c) => c.joined).length === 5, 90_000);
  const migrations = await sql<{ name: string }>`select 'framework/' || name as name from vera_framework_migration union all select 'account/' || name from vera_account_migration`.execute(database.db);
  const names = migrations.rows.map((r) => r.name);
  assert.equal(names.length, 11, "the framework's five, the account module's six");
  assert.equal(new Set(names).size, names.length, "each migration recorded once");
  const applied = processes.flatMap((p) => p.lines().filter((l) => l.msg === "migration applied").map((l) => l.migration));
  assert.deepEqual([...applied].sort(), [...names].sort(), "each migration applied by exactly one replica");

  board.clearFrames();
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) => board!.request("Register", { name: "R", username: `replica_user_${i}`, password: "password123" })),
  );
  assert.deepEqual(answers.map((a) => a.status), Array(10).fill(201));
  const served = new Set(board.frames.filter((f) => f.direction === "in" && f.text.includes('"response"')).map((f) => f.consumerId));
  assert.equal(served.size, 5, "every replica answered some");
});
