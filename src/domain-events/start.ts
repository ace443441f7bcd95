/**
 * The service's events machinery, when the app has a database: the relay of the outbox
 * (src/domain-events/relay.ts) and, when the app has subscribers, their runner. With REDIS_URL the
 * relay publishes to the Redis stream and subscribers read it (src/domain-events/redis-subscribers.ts);
 * without it, the events stay in PostgreSQL and subscribers read them there
 * (src/domain-events/log-subscribers.ts). The App starts it after the providers and stops it before
 * them; operator commands and the test kit never do.
 */
import { Redis } from "ioredis";
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
  subscribers: { readonly stats: Map<string, SubscriberStats> } | undefined;
  stop(): Promise<void>;
}

export function startEvents(
  database: Postgres,
  subscribers: readonly Subscriber[],
  config: Readonly<Config>,
  log: Logger,
  get: <T>(provider: Provider<T>) => T,
): StartedEvents {
  const { redisUrl, stream, maxLen, retentionMs, group } = config.events;
  const relayLog = log.child({ component: "events" });
  const base = { db: database.db, group, subscribers, log: log.child({ component: "subscribers" }), get };
  if (redisUrl === undefined) {
    const relay = new EventRelay({ databaseUrl: database.url, sink: postgresSink(), retentionMs, log: relayLog }).start();
    const runner = subscribers.length > 0 ? new LogSubscriberRunner({ ...base, databaseUrl: database.url }).start() : undefined;
    return {
      relay,
      subscribers: runner,
      async stop() {
        await runner?.stop();
        await relay.stop();
      },
    };
  }
  // Each connection retries by itself; the relay and the runner log their failures, with a backoff.
  const connect = (maxRetriesPerRequest: number | null) => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest, retryStrategy: (tries) => Math.min(5000, 50 * tries) });
    redis.on("error", () => undefined);
    return redis;
  };
  const relayRedis = connect(1);
  const relay = new EventRelay({ databaseUrl: database.url, sink: redisSink(relayRedis, stream, maxLen), retentionMs, log: relayLog }).start();
  // The runner's own connection: XREADGROUP blocks it.
  const runnerRedis = subscribers.length > 0 ? connect(null) : undefined;
  const runner = runnerRedis ? new SubscriberRunner({ ...base, redis: runnerRedis, stream }).start() : undefined;
  return {
    relay,
    subscribers: runner,
    async stop() {
      // A read blocks for a second at most; ending its connection ends it sooner.
      const stopping = runner?.stop();
      runnerRedis?.disconnect();
      await stopping;
      await relay.stop();
      relayRedis.disconnect();
    },
  };
}
