/**
 * Subscribers (src/domain-events/subscribers.ts) on a real Redis and PostgreSQL: each event handled once
 * per service across replicas; a failing handler retried, then dead-lettered; a handler that
 * recovers handled once; data that does not match the schema dead-lettered at once.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { z } from "zod";
import { createTestDatabase, type FreshDatabase } from "./support/database.ts";
import { hasRedisServer, startRedis, type TestRedis } from "./support/redis.ts";
import { SubscriberRunner } from "../src/domain-events/redis-subscribers.ts";
import { subscriber, type Subscriber } from "../src/domain-events/subscribers.ts";
import { createLogger } from "../src/ops/logger.ts";
import { until } from "./support/consumer.ts";

const silent = createLogger({ level: "silent" });

describe("subscribers", { skip: hasRedisServer() ? undefined : "no redis-server binary (.ci/run installs it)" }, () => {
  let redis: TestRedis;
  let database: FreshDatabase;
  let client: Redis;
  const runners: SubscriberRunner[] = [];
  const connections: Redis[] = [];
  let n = 0;

  before(async () => {
    redis = await startRedis();
    database = await createTestDatabase();
    client = new Redis(redis.url);
  });
  after(async () => {
    for (const r of runners) await r.stop();
    for (const c of connections) c.disconnect();
    client.disconnect();
    await redis.stop();
    await database.drop();
  });

  function run(stream: string, subscribers: Subscriber[], options: { maxAttempts?: number; retryAfterMs?: number } = {}): SubscriberRunner {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    connections.push(connection);
    const runner = new SubscriberRunner({ redis: connection, db: database.db, stream, group: "svc", subscribers, log: silent, blockMs: 100, retryAfterMs: 200, ...options }).start();
    runners.push(runner);
    return runner;
  }

  async function publish(stream: string, type: string, data: unknown): Promise<string> {
    const id = randomUUID();
    const envelope = { event_id: id, event_type: type, timestamp: new Date().toISOString(), source: "test", priority: "normal", subject: "user:1", actor: null, resource: null, data, metadata: {} };
    await client.xadd(stream, "*", "event", JSON.stringify(envelope), "type", type, "id", id);
    return id;
  }

  /** The group exists once a runner has read: events published before it would not be delivered. */
  const groupReady = (stream: string) => until(async () => ((await client.xinfo("GROUPS", stream).catch(() => [])) as unknown[]).length > 0);

  test("two replicas of one service: each event handled exactly once", async () => {
    const stream = `subs:${++n}`;
    const seen = new Map<string, number>();
    const counting = subscriber({ name: `count-${n}`, events: ["user.registered"], schema: z.object({ user_id: z.number() }), handle: (e) => void seen.set(e.id, (seen.get(e.id) ?? 0) + 1) });
    // Long enough that no event is reclaimed while the replica it went to handles it.
    run(stream, [counting], { retryAfterMs: 5000 });
    run(stream, [counting], { retryAfterMs: 5000 });
    await groupReady(stream);
    const ids = await Promise.all(Array.from({ length: 100 }, (_, i) => publish(stream, "user.registered", { user_id: i })));
    await publish(stream, "something.else", {});
    await until(() => seen.size === 100, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a second delivery would show by now
    assert.deepEqual([...new Set(seen.values())], [1]);
    assert.deepEqual(new Set(seen.keys()), new Set(ids));
    const pending = (await client.xpending(stream, "svc")) as [number, ...unknown[]];
    assert.equal(pending[0], 0, "every event acknowledged, the unsubscribed one too");
  });

  test("a handler that throws is retried, then the event goes to the dead-letter stream", async () => {
    const stream = `subs:${++n}`;
    let calls = 0;
    const failing = subscriber({ name: `fail-${n}`, events: ["user.deleted"], schema: z.object({}).passthrough(), handle: () => {
      calls++;
      throw new Error("downstream is down");
    } });
    const runner = run(stream, [failing], { maxAttempts: 3 });
    await groupReady(stream);
    const id = await publish(stream, "user.deleted", { user_id: 7 });
    await until(async () => (await client.xlen(`${stream}:dead`)) === 1, 15_000);
    assert.equal(calls, 3, "delivered three times");
    const [, fields] = ((await client.xrange(`${stream}:dead`, "-", "+")) as Array<[string, string[]]>)[0]!;
    assert.equal(fields[fields.indexOf("id") + 1], id);
    assert.equal(fields[fields.indexOf("attempts") + 1], "3");
    assert.deepEqual(runner.stats.get(`fail-${n}`), { handled: 0, failed: 3, deadLettered: 1 });
    const pending = (await client.xpending(stream, "svc")) as [number, ...unknown[]];
    assert.equal(pending[0], 0);
  });

  test("a handler that fails once is retried and handled once; data off its schema is dead-lettered at once", async () => {
    const stream = `subs:${++n}`;
    let calls = 0;
    const flaky = subscriber({ name: `flaky-${n}`, events: ["login.failed"], schema: z.object({ reason: z.string() }), handle: () => {
      if (++calls === 1) throw new Error("once");
    } });
    const runner = run(stream, [flaky]);
    await groupReady(stream);
    await publish(stream, "login.failed", { reason: "bad_password" });
    await until(() => runner.stats.get(`flaky-${n}`)!.handled === 1, 10_000);
    assert.equal(calls, 2);
    await publish(stream, "login.failed", { reason: 42 });
    await until(async () => (await client.xlen(`${stream}:dead`)) === 1, 10_000);
    assert.equal(calls, 2, "a mismatched event never reaches the handler");
  });

  test("an event one subscriber cannot read and another fails on: dead-lettered once for the first, retried for the second", async () => {
    const stream = `subs:${++n}`;
    const strict = subscriber({ name: `strict-${n}`, events: ["user.updated"], schema: z.object({ user_id: z.number() }), handle: () => undefined });
    const failing = subscriber({ name: `failing-${n}`, events: ["user.updated"], schema: z.object({}).passthrough(), handle: () => {
      throw new Error("down");
    } });
    const runner = run(stream, [strict, failing], { maxAttempts: 3 });
    await groupReady(stream);
    await publish(stream, "user.updated", { user_id: "not a number" });
    await until(() => runner.stats.get(`failing-${n}`)!.deadLettered === 1, 15_000);
    const dead = (await client.xrange(`${stream}:dead`, "-", "+")) as Array<[string, string[]]>;
    assert.deepEqual(dead.map(([, f]) => f[f.indexOf("attempts") + 1]), ["0", "3"], "the mismatch once (at once), the failure once (after 3 deliveries)");
    assert.equal(runner.stats.get(`strict-${n}`)!.deadLettered, 1);
  });
});
