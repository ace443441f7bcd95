/**
 * Housekeeping: expired revocations go once their token's exp plus the clock skew has passed,
 * in short batches, by whichever replica takes the advisory lock first; the others skip the
 * round instead of waiting, and requests keep flowing while it runs.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { closeServices, createServices, register, startAccounts, testConfig, type Accounts } from "./support/accounts.ts";
import { RevocationPurge } from "../account/purge.ts";

import { createLogger } from "../src/ops/logger.ts";

const silent = createLogger({ level: "silent" });
const GRACE = 60;

describe("revocation purge", () => {
  let accounts: Accounts;
  before(async () => {
    accounts = await startAccounts();
  });
  after(() => accounts?.close());

  const db = () => accounts.services.db;
  const secondsAgo = (s: number) => new Date(Date.now() - s * 1000);
  const insert = async (count: number, expiresAt: Date) => {
    const jtis = Array.from({ length: count }, () => crypto.randomUUID());
    for (let i = 0; i < jtis.length; i += 1000) {
      await db().insertInto("revocations").values(jtis.slice(i, i + 1000).map((jti) => ({ jti, user_id: null, expires_at: expiresAt }))).execute();
    }
    return jtis;
  };
  const left = async (jtis: string[]) =>
    Number((await db().selectFrom("revocations").select((eb) => eb.fn.countAll<string>().as("n")).where("jti", "in", jtis).executeTakeFirstOrThrow()).n);
  const clear = () => db().deleteFrom("revocations").execute();

  test("only revocations whose token expired more than the skew ago go; the rest stay", async () => {
    await clear();
    const old = await insert(3, secondsAgo(GRACE + 30));
    const withinSkew = await insert(2, secondsAgo(GRACE - 30));
    const live = await insert(2, new Date(Date.now() + 3600_000));
    const purge = new RevocationPurge(db(), silent, { graceSeconds: GRACE });
    assert.deepEqual(await purge.runOnce(), { ran: true, purged: 3 });
    assert.deepEqual([await left(old), await left(withinSkew), await left(live)], [0, 2, 2]);
    assert.deepEqual(await purge.runOnce(), { ran: true, purged: 0 });
  });

  test("a round goes in batches until nothing expired is left", async () => {
    await clear();
    const old = await insert(2500, secondsAgo(3600));
    const purge = new RevocationPurge(db(), silent, { graceSeconds: GRACE, batchSize: 1000 });
    assert.deepEqual(await purge.runOnce(), { ran: true, purged: 2500 });
    assert.equal(await left(old), 0);
  });

  test("while another replica holds the lock, a round skips at once instead of waiting", async () => {
    await clear();
    const old = await insert(5, secondsAgo(3600));
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = db().transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtextextended('vera-service/revocation-purge', 0))`.execute(trx);
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isLocked;
    try {
      const started = performance.now();
      const result = await new RevocationPurge(db(), silent, { graceSeconds: GRACE }).runOnce();
      assert.deepEqual(result, { ran: false, reason: "another replica is purging" });
      assert.ok(performance.now() - started < 1000, "it did not wait for the lock");
      assert.equal(await left(old), 5);
    } finally {
      release();
      await holder;
    }
    assert.deepEqual(await new RevocationPurge(db(), silent, { graceSeconds: GRACE }).runOnce(), { ran: true, purged: 5 });
  });

  test("requests keep answering while a large purge runs; two replicas purging at once share the work", async (t) => {
    await clear();
    const token = await register(accounts, { username: "purge-bystander" });
    const old = await insert(20_000, secondsAgo(3600));
    const replicas = [0, 1].map(() => new RevocationPurge(db(), silent, { graceSeconds: GRACE, batchSize: 500 }));
    const rounds = Promise.all(replicas.map((r) => r.runOnce()));
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const answer = await accounts.dispatch("Verify", { jwt: token });
      latencies.push(performance.now() - started);
      assert.equal((answer.fields as { active: boolean }).active, true);
    }
    const results = await rounds;
    t.diagnostic(`Verify during the purge: max ${Math.max(...latencies).toFixed(1)} ms; rounds ${JSON.stringify(results)}`);
    assert.ok(Math.max(...latencies) < 1000);
    const purged = results.reduce((sum, r) => sum + (r.ran ? r.purged : 0), 0);
    // Whatever the second replica skipped, it left for the first (or a later round): nothing is lost.
    const rest = await left(old);
    assert.equal(purged + rest, 20_000);
    if (rest > 0) assert.deepEqual(await replicas[0]!.runOnce(), { ran: true, purged: rest });
    assert.equal(await left(old), 0);
  });

  test("the timer: started with the services when asked, unref'd, jittered, stopped by closeServices", async () => {
    const database: FreshDatabase = await createTestDatabase();
    const services = await createServices(testConfig(database.url), silent, {
      purgeRevocations: { intervalMs: 40 },
    });
    try {
      const purge = services.purge!;
      assert.ok(purge, "purgeRevocations starts it");
      assert.equal(purge["timer"]?.hasRef(), false, "the timer never keeps the process alive");
      const jti = crypto.randomUUID();
      await services.revocations.revoke({ jti, userId: null, expiresAt: secondsAgo(3600) });
      const deadline = Date.now() + 5000;
      while ((await services.revocations.isRevoked(jti)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await services.revocations.isRevoked(jti), false, "a round ran by itself");
    } finally {
      await closeServices(services);
      await database.drop();
    }
    assert.equal(services.purge!["stopped"], true);
    const unstarted = await createServices(testConfig(accounts.database.url), silent, { migrate: false });
    assert.equal(unstarted.purge, undefined, "off unless asked for (tests, the migrate CLI)");
    await closeServices(unstarted);
  });
});
