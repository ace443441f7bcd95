/**
 * What the loaded actions need, started: the settings of every provider checked first (one
 * ConfigError listing every problem, before anything connects), then the database when a
 * provider needs `postgres` (src/db/postgres.ts), then the providers in dependency order. The
 * app, the test kit (src/testing.ts) and operator commands (src/command.ts) start theirs here. Nothing starts that no action needs.
 */
import type { Config } from "./config.ts";
import type { Logger } from "./ops/logger.ts";
import { openPostgres, postgres, type Postgres } from "./db/postgres.ts";
import { dependencyOrder, ProviderHost, type Provider } from "./providers.ts";
import { Redis } from "ioredis";
import { EventRelay } from "./events/relay.ts";
import { SubscriberRunner, type Subscriber } from "./events/subscribers.ts";

export interface StartedProviders {
  providers: ProviderHost;
  /** The database, when an action needs it. */
  postgres: Postgres | undefined;
  /** The events relay to Redis (src/events/relay.ts), when REDIS_URL is set and there is a database. */
  relay: EventRelay | undefined;
  /** The subscribers' runner (src/events/subscribers.ts), when there are subscribers too. */
  subscribers: SubscriberRunner | undefined;
  /** Stops the providers, then the database (and the embedded server it uses). */
  close(): Promise<void>;
}

export async function startProviders(
  /** What the loaded actions need (registry.providers), or what a command needs. */
  wanted: readonly Provider<unknown>[],
  config: Readonly<Config>,
  log: Logger,
  /** The app's subscribers (src/events/load-subscribers.ts): served with REDIS_URL and a database. */
  subscribers: readonly Subscriber[] = [],
): Promise<StartedProviders> {
  const providers = new ProviderHost({ log, production: config.production, test: config.nodeEnv === "test", dataDir: config.dataDir, env: config.env });
  providers.check(wanted);
  // The database connects (and migrates) while the providers that do not need it start.
  const database = dependencyOrder(wanted).includes(postgres) ? openPostgres(config, log) : undefined;
  database?.catch(() => undefined); // awaited below
  if (database) providers.supply(postgres, database.then((d) => d.value));
  let relay: { relay: EventRelay; redis: Redis } | undefined;
  let runner: { runner: SubscriberRunner; redis: Redis } | undefined;
  const close = async () => {
    // The read blocks for a second at most; the connection's end ends it sooner.
    const stopping = runner?.runner.stop();
    runner?.redis.disconnect();
    await stopping;
    await relay?.relay.stop();
    relay?.redis.disconnect();
    await providers.stop();
    await (await database?.catch(() => undefined))?.close();
  };
  try {
    await providers.start(wanted.filter((p) => p !== postgres));
    const opened = await database;
    if (opened && config.events.redisUrl) {
      relay = startRelay(opened.value.url, config, log);
      if (subscribers.length > 0) runner = startSubscribers(opened.value, subscribers, config, log);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { providers, postgres: (await database)?.value, relay: relay?.relay, subscribers: runner?.runner, close };
}

/** The relay and its Redis connection (which retries by itself; the relay's batches wait meanwhile). */
function startRelay(databaseUrl: string, config: Readonly<Config>, log: Logger): { relay: EventRelay; redis: Redis } {
  const { redisUrl, stream, maxLen, retentionMs } = config.events;
  const redis = new Redis(redisUrl!, { maxRetriesPerRequest: 1, retryStrategy: (tries) => Math.min(5000, 50 * tries) });
  redis.on("error", () => undefined); // each failed batch is logged by the relay, with a backoff
  const relay = new EventRelay({ databaseUrl, redis, stream, maxLen, retentionMs, log: log.child({ component: "events" }) }).start();
  return { relay, redis };
}

/** The subscribers, on a Redis connection of their own (XREADGROUP blocks it). */
function startSubscribers(database: Postgres, subscribers: readonly Subscriber[], config: Readonly<Config>, log: Logger): { runner: SubscriberRunner; redis: Redis } {
  const redis = new Redis(config.events.redisUrl!, { maxRetriesPerRequest: null, retryStrategy: (tries) => Math.min(5000, 50 * tries) });
  redis.on("error", () => undefined); // the runner logs its failed reads, with a backoff
  const runner = new SubscriberRunner({ redis, db: database.db, stream: config.events.stream, group: config.events.group, subscribers, log: log.child({ component: "subscribers" }) }).start();
  return { runner, redis };
}
