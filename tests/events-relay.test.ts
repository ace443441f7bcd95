/**
 * The events relay (src/domain-events/relay.ts) on a real PostgreSQL and a real Redis: every outbox row
 * reaches the stream, in order, once per relay that sent it; Redis stopped during a burst loses
 * nothing; of three relays one leads, and a leader that dies hands over with nothing lost.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertEventsReported } from "./support/metrics.ts";
import { Redis } from "ioredis";
import { sql, type Kysely } from "kysely";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { hasRedisServer, startRedis, type TestRedis } from "./support/redis.ts";
import { EventRelay } from "../src/domain-events/relay.ts";
import { redisSink } from "../src/domain-events/sinks.ts";
import { createLogger } from "../src/ops/logger.ts";
import { until } from "./support/consumer.ts";
import { DevPlugboard } from "../src/devboard/server.ts";
import { compiledFixtures, serviceDatabaseEnv, startService } from "./support/process.ts";
import { recordEvent, type Envelope } from "../src/domain-events/record.ts";
import type { Database } from "../account/schema.ts";

const silent = createLogger({ level: process.env.RELAY_DEBUG ? "debug" : "silent" });

describe("events relay", { skip: hasRedisServer() ? undefined : "no redis-server binary (.ci/run installs it)" }, () => {
  let redis: TestRedis;
  let database: FreshDatabase;
  let db: Kysely<Database>;
  let client: Redis;
  const relays: EventRelay[] = [];
  const clients: Redis[] = [];
  let streamNo = 0;

  before(async () => {
    redis = await startRedis();
    database = await createTestDatabase();
    db = database.db as unknown as Kysely<Database>;
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on("error", () => undefined);
  });
  after(async () => {
    for (const relay of relays) await relay.stop();
    for (const c of clients) c.disconnect();
    client.disconnect();
    await redis.stop();
    await database.drop();
  });

  /** A relay on its own stream (each test its own), polling fast. */
  function relay(stream: string, stuckMs?: number): EventRelay {
    const redisClient = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    redisClient.on("error", () => undefined); // refused while the test has stopped the server: the relay sees it in its batch
    clients.push(redisClient);
    const r = new EventRelay({ databaseUrl: database.url, sink: redisSink(redisClient, stream, 100_000), retentionMs: 3_600_000, log: silent, pollMs: 50, ...(stuckMs ? { stuckMs } : {}) }).start();
    relays.push(r);
    return r;
  }

  async function streamed(stream: string): Promise<Envelope[]> {
    const entries = await client.xrange(stream, "-", "+");
    return entries.map(([, fields]) => {
      const map = new Map<string, string>();
      for (let i = 0; i < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
      const envelope = JSON.parse(map.get("event")!) as Envelope;
      assert.equal(map.get("type"), envelope.event_type);
      assert.equal(map.get("id"), envelope.event_id);
      return envelope;
    });
  }

  /** A service process on `board`, relaying to `stream` on the test's Redis. */
  const serviceEnv = (board: DevPlugboard, stream: string) => ({
    WEBSOCKET_URL: board.socketUrl,
    TOKEN: board.token,
    JWT_SECRET: "events-test-secret-that-is-at-least-32-bytes",
    BCRYPT_COST: "4",
    REDIS_URL: redis.url,
    EVENTS_STREAM: stream,
  });

  const emit = (subject: string, n: number) => recordEvent(db, { type: "test.happened", subject, data: { n } });
  const unpublished = async () => Number((await db.selectFrom("events").select((eb) => eb.fn.countAll<string>().as("c")).where("published_at", "is", null).executeTakeFirstOrThrow()).c);

  test("events committed go to the stream with their envelope, in commit order, and are marked published", async () => {
    const stream = `test:${++streamNo}`;
    const r = relay(stream);
    for (let i = 0; i < 50; i++) await emit(`user:${i % 3}`, i);
    await until(async () => (await unpublished()) === 0, 10_000);
    const events = await streamed(stream);
    assert.deepEqual(events.map((e) => (e.data as { n: number }).n), Array.from({ length: 50 }, (_, i) => i));
    assert.ok(r.stats.leader);
    await r.stop();
  });

  test("Redis stopped during a burst: the events wait in the outbox and all arrive after the restart", async () => {
    const stream = `test:${++streamNo}`;
    const r = relay(stream, 300);
    await emit("user:burst", -1);
    await until(async () => (await unpublished()) === 0, 10_000);
    await redis.stop();
    for (let i = 0; i < 100; i++) await emit("user:burst", i);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await unpublished(), 100, "nothing was marked published while Redis was down");
    await until(async () => r.state === "stuck", 10_000); // what /healthz reports
    assert.ok(r.stats.failures > 0);
    await redis.start();
    await until(async () => (await unpublished()) === 0, 20_000);
    assert.equal(r.state, "leading");
    const ns = (await streamed(stream)).map((e) => (e.data as { n: number }).n);
    // At least once: every event, in order once de-duplicated by event_id.
    const seen = [...new Set(ns)];
    assert.deepEqual(seen.filter((n) => n >= 0), Array.from({ length: 100 }, (_, i) => i)); // -1 went out before the crash, with Redis (no persistence here)
    await r.stop();
  });

  test("three relays: one leads; when it stops, another takes over; every event arrives, per-subject order kept", async () => {
    const stream = `test:${++streamNo}`;
    const three = [relay(stream), relay(stream), relay(stream)];
    await until(async () => three.filter((r) => r.stats.leader).length === 1, 10_000);
    for (let i = 0; i < 60; i++) await emit(`user:${i % 4}`, i);
    await until(async () => (await unpublished()) === 0, 10_000);
    const leader = three.find((r) => r.stats.leader)!;
    await leader.stop(); // its connection, and its lock, go with it
    for (let i = 60; i < 120; i++) await emit(`user:${i % 4}`, i);
    await until(async () => (await unpublished()) === 0, 10_000);
    assert.equal(three.filter((r) => r.stats.leader).length, 1, "another relay leads now");
    const events = await streamed(stream);
    const unique = [...new Map(events.map((e) => [e.event_id, e])).values()];
    assert.equal(unique.length, 120);
    for (const subject of ["user:0", "user:1", "user:2", "user:3"]) {
      const ns = unique.filter((e) => e.subject === subject).map((e) => (e.data as { n: number }).n);
      assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `order of ${subject}`);
    }
    for (const r of three) await r.stop();
  });

  test("a replica killed (SIGKILL) while relaying a burst: another replica relays the rest, no event lost", async () => {
    // Requests routed to the killed replica are given up on soon (as the plugboard does after 30 s).
    const board = await DevPlugboard.start({ log: silent, requestTimeoutMs: 2000 });
    const stream = `test:${++streamNo}`;
    const env = { ...serviceEnv(board, stream), DATABASE_URL: database.url };
    const first = startService(env);
    let second: ReturnType<typeof startService> | undefined;
    try {
      await first.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
      const burst = Array.from({ length: 40 }, (_, i) => board.request("Register", { name: "Burst", username: `burst${i}`, password: "password123" }));
      // Kill the relaying replica as soon as the first events are on the stream.
      await until(async () => (await streamed(stream)).length > 0, 10_000);
      first.kill("SIGKILL");
      await first.exited;
      const answers = await Promise.all(burst);
      const registered = answers.filter((a) => a.status === 201).length;
      second = startService(env);
      await second.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
      await until(async () => (await unpublished()) === 0, 20_000);
      const names = new Set((await streamed(stream)).filter((e) => e.event_type === "user.registered").map((e) => (e.data as { username: string }).username));
      const inDatabase = await db.selectFrom("users").select("username").where("username", "like", "burst%").execute();
      assert.equal(inDatabase.length, names.size, "every committed registration's event is on the stream");
      assert.ok(registered <= inDatabase.length);
    } finally {
      first.kill("SIGKILL");
      second?.kill("SIGTERM");
      await second?.exited;
      await board.stop();
    }
  });

  test("the service with REDIS_URL: a Register through the plugboard arrives on EVENTS_STREAM as user.registered, and the app's subscriber handles it", async () => {
    const board = await DevPlugboard.start({ log: silent });
    const stream = `test:${++streamNo}`;
    const service = startService({
      ...serviceEnv(board, stream),
      SUBSCRIBERS_DIR: compiledFixtures("subscribers"),
      HEALTH_PORT: "0",
      ...(await serviceDatabaseEnv()),
    });
    try {
      await service.waitForLine((l) => l.msg === "joined the plugboard", 30_000);
      const answer = await board.request("Register", { name: "Streamed", username: "streamed", password: "password123" });
      assert.equal(answer.status, 201);
      await until(async () => (await streamed(stream)).some((e) => e.event_type === "user.registered"), 10_000);
      const [registered] = await streamed(stream);
      assert.equal((registered!.data as { username: string }).username, "streamed");
      assert.ok(!JSON.stringify(registered).includes("password123"));
      const mailed = await service.waitForLine((l) => l.msg === "welcome mail sent");
      assert.equal(mailed.username, "streamed");
      assert.equal(mailed.subscriber, "welcome-mail");
      assert.equal(mailed.name, "Streamed", "the handler read the account through ctx.get(postgres)");

      // What an operator sees: the relay in /healthz, its figures in /metrics.
      const port = Number((await service.waitForLine((l) => typeof l.health_port === "number")).health_port);
      await assertEventsReported(port, "welcome-mail");
    } finally {
      service.kill("SIGTERM");
      await service.exited;
      await board.stop();
    }
  });
});
