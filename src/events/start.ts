/**
 * The service's events machinery, when REDIS_URL is set and the app has a database: the relay of
 * the outbox to the stream (src/events/relay.ts) and, when the app has subscribers, their runner
 * (src/events/subscribers.ts). The App starts it after the providers and stops it before them;
 * operator commands and the test kit never do.
 */
import { Redis } from "ioredis";
import type { Config } from "../config.ts";
import type { Postgres } from "../db/postgres.ts";
import type { Logger } from "../ops/logger.ts";
import { EventRelay } from "./relay.ts";
import { SubscriberRunner, type Subscriber } from "./subscribers.ts";

export interface StartedEvents {
  relay: EventRelay;
  subscribers: SubscriberRunner | undefined;
  stop(): Promise<void>;
}

export function startEvents(database: Postgres, subscribers: readonly Subscriber[], config: Readonly<Config>, log: Logger): StartedEvents | undefined {
  const { redisUrl, stream, maxLen, retentionMs, group } = config.events;
  if (redisUrl === undefined) return undefined;
  // Each connection retries by itself; the relay and the runner log their failures, with a backoff.
  const connect = (maxRetriesPerRequest: number | null) => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest, retryStrategy: (tries) => Math.min(5000, 50 * tries) });
    redis.on("error", () => undefined);
    return redis;
  };
  const relayRedis = connect(1);
  const relay = new EventRelay({ databaseUrl: database.url, redis: relayRedis, stream, maxLen, retentionMs, log: log.child({ component: "events" }) }).start();
  // The runner's own connection: XREADGROUP blocks it.
  const runnerRedis = subscribers.length > 0 ? connect(null) : undefined;
  const runner = runnerRedis
    ? new SubscriberRunner({ redis: runnerRedis, db: database.db, stream, group, subscribers, log: log.child({ component: "subscribers" }) }).start()
    : undefined;
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
