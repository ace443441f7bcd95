/**
 * The service's events machinery, when the app has a database: the relay of the outbox
 * (src/domain-events/relay.ts) and, when the app has subscribers, their runner. With REDIS_URL the
 * relay publishes to the Redis stream and subscribers read it (src/domain-events/redis-subscribers.ts);
 * without it, the events stay in PostgreSQL and subscribers read them there
 * (src/domain-events/log-subscribers.ts). The App starts it after the providers and stops it before
 * them; operator commands and the test kit never do. The App loads this module only with a
 * database, and ioredis only with REDIS_URL.
 */
import type { Redis } from "ioredis";
import { sql } from "kysely";
import type { Config } from "../config.ts";
import type { Postgres } from "../db/postgres.ts";
import type { Logger } from "../ops/logger.ts";
import type { Provider } from "../providers.ts";
import { LogSubscriberRunner } from "./log-subscribers.ts";
import { SubscriberRunner } from "./redis-subscribers.ts";
import { EventRelay } from "./relay.ts";
import { postgresSink, redisSink } from "./sinks.ts";
import type { Subscriber, SubscriberStats } from "./subscribers.ts";

export interface StartedEvents {
  relay: EventRelay;
  /** The subscribers' runner now; undefined while there are none. */
  readonly subscribers: { readonly stats: Map<string, SubscriberStats> } | undefined;
  /**
   * The dev loop's subscribers changed: the runner stops (what it is handling finishes; what it
   * has not acknowledged is delivered again, at least once) and one for the new set starts.
   */
  useSubscribers(subscribers: readonly Subscriber[]): Promise<void>;
  /** The events not yet relayed, and the age of the oldest: for the metrics, at scrape time. */
  backlog(): Promise<{ count: number; oldestSeconds: number }>;
  stop(): Promise<void>;
}

interface Runner {
  readonly stats: Map<string, SubscriberStats>;
  stop(): Promise<void>;
}

export async function startEvents(
  database: Postgres,
  subscribers: readonly Subscriber[],
  config: Readonly<Config>,
  log: Logger,
  get: <T>(provider: Provider<T>) => T,
): Promise<StartedEvents> {
  const { redisUrl, stream, maxLen, retentionMs, group } = config.events;
  const relayLog = log.child({ component: "events" });
  const base = { db: database.db, group, log: log.child({ component: "subscribers" }), get };
  const RedisClient = redisUrl === undefined ? undefined : (await import("ioredis")).Redis;
  // Each connection retries by itself; the relay and the runner log their failures, with a backoff.
  const connect = (url: string, maxRetriesPerRequest: number | null): Redis => {
    const redis = new RedisClient!(url, { maxRetriesPerRequest, retryStrategy: (tries) => Math.min(5000, 50 * tries) });
    redis.on("error", () => undefined);
    return redis;
  };
  const relayRedis = redisUrl === undefined ? undefined : connect(redisUrl, 1);
  const sink = relayRedis ? redisSink(relayRedis, stream, maxLen) : postgresSink();
  const relay = new EventRelay({ databaseUrl: database.url, sink, retentionMs, log: relayLog }).start();

  const startRunner = (list: readonly Subscriber[]): Runner | undefined => {
    if (list.length === 0) return undefined;
    if (redisUrl === undefined) return new LogSubscriberRunner({ ...base, subscribers: list, databaseUrl: database.url }).start();
    // The runner's own connection: XREADGROUP blocks it.
    const redis = connect(redisUrl, null);
    const runner = new SubscriberRunner({ ...base, subscribers: list, redis, stream }).start();
    return {
      stats: runner.stats,
      async stop() {
        // A read blocks for a second at most; ending its connection ends it sooner.
        const stopping = runner.stop();
        redis.disconnect();
        await stopping;
      },
    };
  };

  let runner = startRunner(subscribers);
  return {
    relay,
    get subscribers() {
      return runner;
    },
    async useSubscribers(list) {
      await runner?.stop();
      runner = startRunner(list);
    },
    async backlog() {
      const { rows } = await sql<{ count: string; oldest: number | null }>`
        select count(*) as count, extract(epoch from now() - min(created_at))::float8 as oldest from events where published_at is null`.execute(database.db);
      return { count: Number(rows[0]?.count ?? 0), oldestSeconds: Math.max(0, rows[0]?.oldest ?? 0) };
    },
    async stop() {
      await runner?.stop();
      runner = undefined;
      await relay.stop();
      relayRedis?.disconnect();
    },
  };
}
