/**
 * What every action can reach through ctx.services. main.ts builds one instance at start-up
 * with createServices (database, migrations, password pool, token keys) and closes it last.
 */
import type { Kysely } from "kysely";
import type { Config } from "./config.ts";
import type { Logger } from "./ops/logger.ts";
import { Passwords } from "./auth/passwords.ts";
import { Tokens } from "./auth/tokens.ts";
import { createDatabase, type PostgresOptions } from "./db/database.ts";
import { migrateToLatest } from "./db/migrator.ts";
import { RevocationPurge, type PurgeOptions } from "./db/purge.ts";
import { Revocations } from "./db/revocations.ts";
import type { Database } from "./db/schema.ts";
import { LoginThrottle } from "./db/throttle.ts";
import { Users } from "./db/users.ts";

export interface Services {
  config: Readonly<Config>;
  /** The database; unavailability surfaces as DependencyError (→ 503). */
  db: Kysely<Database>;
  /** bcrypt off the event loop. */
  passwords: Passwords;
  /** JWT signing and verification. */
  tokens: Tokens;
  users: Users;
  revocations: Revocations;
  throttle: LoginThrottle;
  /** Run last by closeServices (ServiceOptions.onClose). */
  onClose?: () => Promise<void>;
  /** The periodic purge of expired revocations, when started (ServiceOptions.purgeRevocations); closeServices stops it. */
  purge?: RevocationPurge;
}

export interface ServiceOptions {
  /** The HS* secret when the configuration has none (dev mode's generated secret). */
  jwtSecret?: string;
  /** The database URL when config.database has none (the embedded PostgreSQL's). */
  databaseUrl?: string;
  /** Run by closeServices after the database pool is closed (the embedded PostgreSQL's release). */
  onClose?: () => Promise<void>;
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
  /** Pool settings for PostgreSQL (size, timeouts). */
  pool?: Omit<PostgresOptions, "url">;
  /** Purge expired revocations now and then (the app does; tests mostly not). */
  purgeRevocations?: boolean | Omit<PurgeOptions, "graceSeconds">;
}

export class NoDatabaseError extends Error {
  constructor() {
    super("no database configured: set DATABASE_URL or POSTGRES_HOST/_PORT/_USER/_PASSWORD/_DB");
    this.name = "NoDatabaseError";
  }
}

/**
 * Connects, migrates (under the migration lock) and builds the services. Throws when the
 * configuration is unusable, the database cannot be reached, or a migration fails: the
 * caller exits non-zero.
 */
export async function createServices(config: Readonly<Config>, log: Logger, options: ServiceOptions = {}): Promise<Services> {
  const tokens = new Tokens({ ...config.jwt, secret: config.jwt.secret ?? options.jwtSecret });
  const url = config.database?.url ?? options.databaseUrl;
  if (!url) throw new NoDatabaseError();

  // The password pool starts its threads and hashes its dummy digest while the database connects
  // and migrates: one is CPU on worker threads, the other waiting on the network.
  const starting = Passwords.start({ cost: config.bcrypt.cost, threads: config.bcrypt.threads, queue: config.bcrypt.queue });
  starting.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  let db: Kysely<Database>;
  try {
    if (options.migrate !== false) await migrateWithOwnPool(url, log);
    db = createDatabase({ ...options.pool, url }, log);
  } catch (error) {
    await starting.then((p) => p.close(), () => undefined);
    throw error;
  }
  let passwords: Passwords;
  try {
    passwords = await starting;
  } catch (error) {
    await db.destroy();
    throw error;
  }
  log.info({ bcrypt_cost: passwords.cost, bcrypt_threads: passwords.maxThreads, jwt_algorithm: tokens.algorithm }, "services ready");
  const purge = options.purgeRevocations
    ? new RevocationPurge(db, log.child({ component: "housekeeping" }), {
        ...(typeof options.purgeRevocations === "object" ? options.purgeRevocations : {}),
        graceSeconds: tokens.clockToleranceSeconds,
      }).start()
    : undefined;
  return {
    config,
    db,
    passwords,
    tokens,
    users: new Users(db),
    revocations: new Revocations(db),
    throttle: new LoginThrottle(db, config.login),
    ...(purge ? { purge } : {}),
    ...(options.onClose ? { onClose: options.onClose } : {}),
  };
}

/**
 * Migrations get a small pool of their own without the statement timeout: an index build may
 * take longer than any request may, and waiting for another replica's migration too.
 */
async function migrateWithOwnPool(url: string, log: Logger): Promise<void> {
  const db = createDatabase({ url, poolMax: 2, statementTimeoutMs: 0 }, log);
  try {
    await migrateToLatest(db, log);
  } finally {
    await db.destroy();
  }
}

/** Stops the housekeeping, then closes the password pool and the database pool. */
export async function closeServices(services: Services): Promise<void> {
  await services.purge?.stop().catch(() => undefined);
  await Promise.allSettled([services.passwords.close(), services.db.destroy()]);
  await services.onClose?.().catch(() => undefined);
}
