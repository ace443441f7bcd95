/**
 * The embedded default's events (no REDIS_URL) on a real PostgreSQL: the relay publishes the
 * outbox into PostgreSQL itself (src/domain-events/sinks.ts) and subscribers read it by position
 * (src/domain-events/log-subscribers.ts). Each event handled once per service across replicas, in
 * commit order per subject; every service (group) gets every event; a failing handler retried
 * with a growing backoff, then kept as a dead letter; a flaky one handled once; data that misses
 * the schema dead-lettered at once; a stopped service catches up; purge waits for every group
 * that has read within the retention.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertEventsReported } from "./support/metrics.ts";
import type { Kysely } from "kysely";
import { z } from "zod";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { until } from "./support/consumer.ts";
import { EventRelay } from "../src/domain-events/relay.ts";
import { postgresSink } from "../src/domain-events/sinks.ts";
import { LogSubscriberRunner, type LogRunnerOptions } from "../src/domain-events/log-subscribers.ts";
import { subscriber, type Subscriber } from "../src/domain-events/subscribers.ts";
import { createLogger } from "../src/ops/logger.ts";
import { recordEvent } from "../src/domain-events/record.ts";
import { migrateToLatest } from "../src/db/migrator.ts";
import { DevPlugboard } from "../src/devboard/server.ts";
import { compiledFixtures, serviceDatabaseEnv, startService } from "./support/process.ts";
import type { Database } from "../account/schema.ts";

const silent = createLogger({ level: "silent" });

/** The events machinery's own tables (src/migrations/0004_event_log.ts) are not in the account schema's types. */
const loose = (database: FreshDatabase) => database.db as unknown as Kysely<any>;

describe("subscribers served from PostgreSQL (no REDIS_URL)", () => {
  let database: FreshDatabase;
  let db: Kysely<Database>;
  let relay: EventRelay;
  const runners: LogSubscriberRunner[] = [];
  let n = 0;

  before(async () => {
    database = await createTestDatabase();
    db = database.db as unknown as Kysely<Database>;
    relay = new EventRelay({ databaseUrl: database.url, sink: postgresSink(), retentionMs: 3_600_000, log: silent, pollMs: 50 }).start();
  });
  after(async () => {
    for (const r of runners) await r.stop();
    await relay.stop();
    await database.drop();
  });

  /** A replica of service `group`; resolves once its cursor exists (a new group starts at the newest event). */
  async function run(group: string, subscribers: Subscriber[], options: Partial<LogRunnerOptions> = {}): Promise<LogSubscriberRunner> {
    const runner = new LogSubscriberRunner({ databaseUrl: database.url, db: database.db, group, subscribers, log: silent, pollMs: 200, retryBaseMs: 20, ...options }).start();
    runners.push(runner);
    await until(async () => (await loose(database).selectFrom("event_cursors").selectAll().where("group_name", "=", group).execute()).length > 0);
    return runner;
  }

  const publish = (type: string, subject: string, data: Record<string, unknown>) => recordEvent(db, { type, subject, data });

  const retries = (group: string) =>
    loose(database).selectFrom("event_retries").select(["subscriber", "attempts", "dead_at", "problem", "next_at"]).where("group_name", "=", group).execute() as Promise<
      Array<{ subscriber: string; attempts: number; dead_at: Date | null; problem: string; next_at: Date }>
    >;

  test("a leading relay leaves the migration lock free: another replica starting migrates at once", async () => {
    await until(() => relay.stats.leader);
    const started = Date.now();
    assert.deepEqual(await migrateToLatest(database.db, silent), []);
    assert.ok(Date.now() - started < 5000);
  });

  test("two replicas of one service: each event handled exactly once, in commit order per subject", async () => {
    const type = `t${++n}.happened`;
    const seen: Array<{ id: string; subject: string; seq: number }> = [];
    const counting = subscriber({ name: `count-${n}`, events: [type], schema: z.object({ seq: z.number() }), handle: (e) => void seen.push({ id: e.id, subject: e.subject, seq: e.data.seq }) });
    await run(`svc-${n}`, [counting]);
    await run(`svc-${n}`, [counting]);
    // 8 writers at once, each the only writer of its subject: its commits are that subject's order.
    const ids = (await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      const written: string[] = [];
      for (let seq = 0; seq < 25; seq++) written.push((await publish(type, `user:${w}`, { seq })).event_id);
      return written;
    }))).flat();
    await publish("something.else", "user:0", {});
    await until(() => seen.length >= ids.length, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a second handling would show by now
    assert.equal(seen.length, ids.length, "none handled twice");
    assert.deepEqual(new Set(seen.map((s) => s.id)), new Set(ids));
    for (let w = 0; w < 8; w++) {
      const order = seen.filter((s) => s.subject === `user:${w}`).map((s) => s.seq);
      assert.deepEqual(order, [...order].sort((a, b) => a - b), `user:${w} handled in commit order`);
    }
    const handled = await loose(database).selectFrom("handled_events").select("event_id").where("subscriber", "=", `count-${n}`).execute();
    assert.equal(handled.length, ids.length);
  });

  test("two services: each handles every event once", async () => {
    const type = `t${++n}.happened`;
    const a: string[] = [];
    const b: string[] = [];
    await run(`a-${n}`, [subscriber({ name: "mailer", events: [type], schema: z.object({}).passthrough(), handle: (e) => void a.push(e.id) })]);
    await run(`b-${n}`, [subscriber({ name: "auditor", events: [type], schema: z.object({}).passthrough(), handle: (e) => void b.push(e.id) })]);
    for (let i = 0; i < 20; i++) await publish(type, "user:1", { i });
    await until(() => a.length === 20 && b.length === 20);
    assert.deepEqual(a, b);
  });

  test("a handler that throws: retried with a growing backoff, then kept as a dead letter; the event's other subscriber and later events go on", async () => {
    const type = `t${++n}.happened`;
    const calls = new Map<string, number[]>();
    const failing = subscriber({ name: "failing", events: [type], schema: z.object({}).passthrough(), handle: (e) => {
      calls.set(e.id, [...(calls.get(e.id) ?? []), Date.now()]);
      throw new Error("downstream refused");
    } });
    const fine: string[] = [];
    const sibling = subscriber({ name: "sibling", events: [type], schema: z.object({}).passthrough(), handle: (e) => void fine.push(e.id) });
    const group = `svc-${n}`;
    const runner = await run(group, [failing, sibling], { maxAttempts: 4, retryBaseMs: 40 });
    const first = await publish(type, "user:1", {});
    const second = await publish(type, "user:2", {});
    await until(async () => (await retries(group)).some((r) => r.dead_at !== null), 10_000);
    assert.deepEqual(fine, [first.event_id, second.event_id], "the sibling handled both, once, without waiting");
    await until(async () => (await retries(group)).every((r) => r.dead_at !== null), 10_000);
    const dead = await retries(group);
    assert.deepEqual(dead.map((r) => r.subscriber), ["failing", "failing"]);
    assert.deepEqual(dead.map((r) => r.attempts), [4, 4]);
    assert.match(dead[0]!.problem, /downstream refused/);
    assert.deepEqual([...calls.values()].map((c) => c.length), [4, 4], "4 deliveries of each of the two events, then no more");
    assert.equal(runner.stats.get("failing")!.deadLettered, 2);
    assert.equal(runner.stats.get("failing")!.failed, 8);
    assert.equal(runner.stats.get("sibling")!.handled, 2);
    // Backoff: with a 40 ms base the waits between one event's deliveries are at least 20, 40 and 80 ms (jitter halves at most).
    for (const times of calls.values()) {
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(gaps[0]! >= 20 && gaps[1]! >= 40 && gaps[2]! >= 80, `waits ${gaps.join(", ")} ms grow`);
    }
  });

  test("a handler that fails twice, then succeeds: handled once, its retry record gone", async () => {
    const type = `t${++n}.happened`;
    let calls = 0;
    const handled: string[] = [];
    const flaky = subscriber({ name: "flaky", events: [type], schema: z.object({}).passthrough(), handle: (e) => {
      if (++calls <= 2) throw new Error("not yet");
      handled.push(e.id);
    } });
    const group = `svc-${n}`;
    const runner = await run(group, [flaky]);
    const event = await publish(type, "user:1", {});
    await until(() => handled.length === 1, 10_000);
    await until(async () => (await retries(group)).length === 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(handled, [event.event_id]);
    assert.deepEqual(runner.stats.get("flaky"), { handled: 1, failed: 2, deadLettered: 0 });
  });

  test("a retry of a subscriber this replica does not have (a rolling deploy) is left for one that has it", async () => {
    const group = `svc-${++n}`;
    await run(group, [subscriber({ name: "present", events: [`t${n}.x`], schema: z.object({}).passthrough(), handle: () => undefined })]);
    const envelope = { event_id: "8f2d7a52-0000-4000-8000-000000000001", event_type: `t${n}.x`, subject: "user:1", data: {} };
    await loose(database).insertInto("event_retries").values({ group_name: group, subscriber: "newer", event_id: envelope.event_id, envelope: JSON.stringify(envelope), attempts: 1, next_at: new Date(0), problem: "x" }).execute();
    await new Promise((resolve) => setTimeout(resolve, 600)); // several looks at the due retries
    assert.equal((await retries(group)).length, 1, "kept");
  });

  test("data that does not match the subscriber's schema: dead-lettered at once, the handler never called", async () => {
    const type = `t${++n}.happened`;
    let calls = 0;
    const strict = subscriber({ name: "strict", events: [type], schema: z.object({ user_id: z.number() }), handle: () => void calls++ });
    const group = `svc-${n}`;
    await run(group, [strict]);
    await publish(type, "user:1", { user_id: "not a number" });
    await until(async () => (await retries(group)).length === 1);
    const [row] = await retries(group);
    assert.equal(row!.attempts, 1);
    assert.notEqual(row!.dead_at, null);
    assert.match(row!.problem, /schema/);
    assert.equal(calls, 0);
  });

  test("a service that was stopped catches up from its cursor on restart", async () => {
    const type = `t${++n}.happened`;
    const seen: number[] = [];
    const s = subscriber({ name: "catching-up", events: [type], schema: z.object({ i: z.number() }), handle: (e) => void seen.push(e.data.i) });
    const group = `svc-${n}`;
    const first = await run(group, [s]);
    await publish(type, "user:1", { i: 0 });
    await until(() => seen.length === 1);
    await first.stop();
    for (let i = 1; i <= 5; i++) await publish(type, "user:1", { i });
    await run(group, [s]);
    await until(() => seen.length === 6);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
  });

  test("purge: published events past the retention are deleted only once every group has read them", async () => {
    const fresh = await createTestDatabase();
    const freshDb = fresh.db as unknown as Kysely<Database>;
    const purging = new EventRelay({ databaseUrl: fresh.url, sink: postgresSink(), retentionMs: 300, purgeEveryMs: 50, log: silent, pollMs: 50 }).start();
    try {
      // Read "just now" for the whole test (its time set ahead): a group the purge must wait for.
      await loose(fresh).insertInto("event_cursors").values({ group_name: "lagging", position: 0, updated_at: new Date(Date.now() + 3_600_000) }).execute();
      // A service that has not read for longer than the retention is not waited for.
      await loose(fresh).insertInto("event_cursors").values({ group_name: "gone", position: 0, updated_at: new Date(Date.now() - 3_600_000) }).execute();
      for (let i = 0; i < 5; i++) await recordEvent(freshDb, { type: "x.happened", subject: "user:1", data: { i } });
      await until(async () => (await freshDb.selectFrom("events").select("id").where("published_at", "is", null).execute()).length === 0);
      await new Promise((resolve) => setTimeout(resolve, 700)); // past the retention, several purges
      assert.equal((await freshDb.selectFrom("events").select("id").execute()).length, 5, "kept: the lagging group has not read them");
      await loose(fresh).updateTable("event_cursors").set({ position: 3 }).where("group_name", "=", "lagging").execute();
      await until(async () => (await freshDb.selectFrom("events").select("id").execute()).length === 2);
      await loose(fresh).updateTable("event_cursors").set({ position: 5 }).where("group_name", "=", "lagging").execute();
      await until(async () => (await freshDb.selectFrom("events").select("id").execute()).length === 0);
    } finally {
      await purging.stop();
      await fresh.drop();
    }
  });

  test("the service without REDIS_URL: a Register's event reaches the app's subscriber through PostgreSQL; /healthz and /metrics show the relay and the subscriber", async () => {
    const board = await DevPlugboard.start({ log: silent });
    const service = startService({
      WEBSOCKET_URL: board.socketUrl,
      TOKEN: board.token,
      JWT_SECRET: "events-test-secret-that-is-at-least-32-bytes",
      BCRYPT_COST: "4",
      SUBSCRIBERS_DIR: compiledFixtures("subscribers"),
      HEALTH_PORT: "0",
      ...(await serviceDatabaseEnv()),
    });
    try {
      await service.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
      assert.equal((await board.request("Register", { name: "Logged", username: "logged", password: "password123" })).status, 201);
      const mailed = await service.waitForLine((l) => l.msg === "welcome mail sent");
      assert.equal(mailed.username, "logged");
      assert.equal(mailed.name, "Logged", "the handler read the account through ctx.get(postgres)");
      assert.equal(mailed.subscriber, "welcome-mail");
      // What an operator sees: the relay in /healthz, its figures in /metrics.
      const port = Number((await service.waitForLine((l) => typeof l.health_port === "number")).health_port);
      await assertEventsReported(port, "welcome-mail");
      assert.ok(service.lines().some((l) => l.msg === "events relay: leading" && l.target === "postgresql (events.position)"));
    } finally {
      service.kill("SIGTERM");
      await service.exited;
      await board.stop();
    }
  });
});
