/**
 * What the loaded actions need, started: the settings of every provider checked first (one
 * ConfigError listing every problem, before anything connects), then the database when a
 * provider needs `postgres` (src/db/postgres.ts), then the providers in dependency order. The
 * app, the test kit (src/testing.ts) and operator commands (src/command.ts) start theirs here.
 * Nothing starts that no action needs (the App starts its events machinery itself: src/domain-events/start.ts).
 */
import type { Config } from "./config.ts";
import type { Logger } from "./ops/logger.ts";
import { postgres, type Postgres } from "./db/postgres.ts";
import { FRAMEWORK_MIGRATIONS, type MigrationSource } from "./db/migration-sources.ts";
import { dependencyOrder, ProviderHost, type Provider } from "./providers.ts";
import { useEventSource } from "./domain-events/record.ts";

export interface StartedProviders {
  providers: ProviderHost;
  /** The database, when an action needs it. */
  postgres: Postgres | undefined;
  /** Stops the providers, then the database (and the embedded server it uses). */
  close(): Promise<void>;
}

export async function startProviders(
  /** What the loaded actions need (registry.providers), or what a command needs. */
  wanted: readonly Provider<unknown>[],
  config: Readonly<Config>,
  log: Logger,
): Promise<StartedProviders> {
  // Every domain event this process records names the service it comes from.
  useEventSource(config.serviceName);
  const providers = new ProviderHost({ log, production: config.production, test: config.nodeEnv === "test", dataDir: config.dataDir, env: config.env });
  providers.check(wanted);
  // The database connects (and migrates) while the providers that do not need it start.
  const order = dependencyOrder(wanted);
  // pg, kysely and the embedded server load only here, when a provider needs the database.
  const database = order.includes(postgres) ? import("./db/open-postgres.ts").then(({ openPostgres }) => openPostgres(config, log, migrationSources(order, config))) : undefined;
  database?.catch(() => undefined); // awaited below
  if (database) providers.supply(postgres, database.then((d) => d.value));
  const close = async () => {
    await providers.stop();
    await (await database?.catch(() => undefined))?.close();
  };
  try {
    await providers.start(wanted.filter((p) => p !== postgres));
    await database;
  } catch (error) {
    await close();
    throw error;
  }
  return { providers, postgres: (await database)?.value, close };
}

/** Whose migrations run, in order: the framework's, those of the providers used (in dependency order), the app's. */
export function migrationSources(providers: readonly Provider<unknown>[], config: Pick<Readonly<Config>, "migrationsDir">): MigrationSource[] {
  return [FRAMEWORK_MIGRATIONS, ...providers.flatMap((p) => (p.migrations ? [p.migrations] : [])), { owner: "app", dir: config.migrationsDir }];
}
