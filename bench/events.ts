/**
 * The events pipeline's figures for `npm run bench`: events written to the outbox (each in a
 * transaction of its own, as account changes write them) → the relay → a Redis stream (a Redis
 * of the benchmark's own) or, as without REDIS_URL, PostgreSQL itself → a subscriber, on a real
 * PostgreSQL. Prints events per second end to end and the lag from commit to handled (p50, p99).
 */
import { Redis } from "ioredis";
import type { Kysely } from "kysely";
import { z } from "zod";
import { createTestDatabase } from "../tests/support/database.ts";
import { hasRedisServer, startRedis } from "../tests/support/redis.ts";
import { EventRelay } from "../src/domain-events/relay.ts";
import { SubscriberRunner } from "../src/domain-events/redis-subscribers.ts";
import { postgresSink, redisSink } from "../src/domain-events/sinks.ts";
import { LogSubscriberRunner } from "../src/domain-events/log-subscribers.ts";
import { subscriber } from "../src/domain-events/subscribers.ts";
import { createLogger } from "../src/ops/logger.ts";
import { recordEvent } from "../src/domain-events/record.ts";
import type { Database } from "../account/schema.ts";
import { percentile } from "./load.ts";

export interface EventFigures {
  /** A burst: as fast as 8 writers commit. */
  count: number;
  perSecond: number;
  lagP50Ms: number;
  lagP99Ms: number;
  /** At rest: one event every 10 ms, commit to handled. */
  restLagP50Ms: number;
  restLagP99Ms: number;
}

export async function eventsPipeline(count: number, transport: "redis" | "postgresql", writers = 8): Promise<EventFigures | undefined> {
  if (transport === "redis" && !hasRedisServer()) return undefined;
  const log = createLogger({ level: "silent" });
  const redis = transport === "redis" ? await startRedis() : undefined;
  const fresh = await createTestDatabase();
  const db = fresh.db as unknown as Kysely<Database>;
  const relayRedis = redis && new Redis(redis.url, { maxRetriesPerRequest: 1 });
  const runnerRedis = redis && new Redis(redis.url, { maxRetriesPerRequest: null });
  const lags: number[] = [];
  let handled = 0;
  let expected = count;
  let allHandled!: () => void;
  let done = new Promise<void>((resolve) => (allHandled = resolve));
  const stream = "bench:events";
  const base = {
    db: fresh.db,
    group: "bench",
    log,
    subscribers: [
      subscriber({
        name: "bench",
        events: ["bench.happened"],
        schema: z.object({ committedAt: z.number() }),
        handle(event) {
          lags.push(Date.now() - event.data.committedAt);
          if (++handled === expected) allHandled();
        },
      }),
    ],
  };
  const runner = runnerRedis
    ? new SubscriberRunner({ ...base, redis: runnerRedis, stream, blockMs: 100 }).start()
    : new LogSubscriberRunner({ ...base, databaseUrl: fresh.url }).start();
  const sink = relayRedis ? redisSink(relayRedis, stream, 10 * count) : postgresSink();
  const relay = new EventRelay({ databaseUrl: fresh.url, sink, retentionMs: 3_600_000, log, pollMs: 100 }).start();
  // The group exists before the first event (a new group starts at the newest event).
  const groupReady = runnerRedis
    ? async () => ((await runnerRedis.xinfo("GROUPS", stream).catch(() => [])) as unknown[]).length > 0
    : async () => (await (fresh.db as unknown as Kysely<any>).selectFrom("event_cursors").select("group_name").execute()).length > 0;
  try {
    while (!(await groupReady())) await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < count) {
          next++;
          // The lag counts from just before the commit: the event's own transaction.
          await db.transaction().execute((trx) => recordEvent(trx, { type: "bench.happened", subject: `user:${next % 100}`, data: { committedAt: Date.now() } }));
        }
      }),
    );
    await done;
    const seconds = (performance.now() - started) / 1000;
    const burst = { count, perSecond: count / seconds, lagP50Ms: percentile(lags, 50), lagP99Ms: percentile(lags, 99) };

    // At rest: one event at a time, 10 ms apart.
    const rest = 300;
    lags.length = 0;
    handled = 0;
    expected = rest;
    done = new Promise<void>((resolve) => (allHandled = resolve));
    for (let i = 0; i < rest; i++) {
      await db.transaction().execute((trx) => recordEvent(trx, { type: "bench.happened", subject: `user:${i % 100}`, data: { committedAt: Date.now() } }));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await done;
    return { ...burst, restLagP50Ms: percentile(lags, 50), restLagP99Ms: percentile(lags, 99) };
  } finally {
    await runner.stop();
    await relay.stop();
    relayRedis?.disconnect();
    runnerRedis?.disconnect();
    await redis?.stop();
    await fresh.drop();
  }
}
