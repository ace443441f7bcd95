/**
 * What the account actions reach through `ctx.get(accounts)`: the repositories on the
 * framework's database, the password pool and the token keys, built by the `accounts` provider
 * (account/accounts.ts) from its settings, and closed when it stops.
 */
import { Roles } from "./roles.ts";
import type { Kysely } from "kysely";
import type { Logger } from "vera-service";
import type { AccountSettings } from "./settings.ts";
import { Passwords } from "./passwords.ts";
import { Tokens } from "./tokens.ts";
import { RevocationPurge, type PurgeOptions } from "./purge.ts";
import { Revocations } from "./revocations.ts";
import type { Database } from "./schema.ts";
import { LoginThrottle } from "./throttle.ts";
import { Users } from "./users.ts";

export interface Services {
  /** The account settings (limits, login throttle, …). */
  config: Readonly<AccountSettings>;
  /** The database; unavailability surfaces as DependencyError (→ 503). */
  db: Kysely<Database>;
  /** bcrypt off the event loop. */
  passwords: Passwords;
  /** JWT signing and verification. */
  tokens: Tokens;
  users: Users;
  revocations: Revocations;
  /** Roles, their permissions and who holds them. */
  roles: Roles;
  throttle: LoginThrottle;
  /** The periodic purge of expired revocations, when started; closeServices stops it. */
  purge?: RevocationPurge;
}

export interface BuildOptions {
  /** The HS* secret when the settings have none (dev mode's generated secret). */
  jwtSecret?: string;
  /** Purge expired revocations now and then (the service does; tests mostly not). */
  purgeRevocations?: boolean | Omit<PurgeOptions, "graceSeconds">;
}

/**
 * Builds the account services on a database the app has migrated (or is still connecting and
 * migrating: the password pool starts its threads and hashes its dummy digest meanwhile, CPU on
 * worker threads against waiting on the network). Throws when the settings are unusable.
 */
export async function buildServices(
  config: Readonly<AccountSettings>,
  database: Kysely<Database> | Promise<Kysely<Database>>,
  log: Logger,
  options: BuildOptions = {},
): Promise<Services> {
  const tokens = new Tokens({ ...config.jwt, secret: config.jwt.secret ?? options.jwtSecret });
  const starting = Passwords.start({ cost: config.bcrypt.cost, threads: config.bcrypt.threads, maxWaitMs: config.bcrypt.maxWaitMs, maxQueued: config.bcrypt.maxQueued });
  let db: Kysely<Database>;
  try {
    db = await database;
  } catch (error) {
    await starting.then((p) => p.close(), () => undefined);
    throw error;
  }
  const passwords = await starting;
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
    roles: new Roles(db),
    throttle: new LoginThrottle(db, config.login),
    ...(purge ? { purge } : {}),
  };
}

/** Stops the housekeeping, then closes the password pool (the database is the app's to close). */
export async function closeServices(services: Services): Promise<void> {
  await services.purge?.stop().catch(() => undefined);
  await services.passwords.close().catch(() => undefined);
}
