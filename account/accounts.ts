/**
 * The account module's provider: what its actions and its sign-in guard read with
 * `ctx.get(accounts)` — the repositories, the password pool and the token keys — on the
 * framework's database. It plugs in through the public API any app uses: the framework starts
 * it (after `postgres`) when a loaded action needs it, and an app without account actions never
 * does, so never opens a database for it.
 */
import { fileURLToPath } from "node:url";
import type { Kysely } from "kysely";
import { postgres, provider } from "vera-service";
import { developmentSecret } from "./dev-secret.ts";
import type { Database } from "./schema.ts";
import { buildServices, closeServices, type Services } from "./services.ts";
import { accountSettings, type AccountSettings } from "./settings.ts";

export type Accounts = Services;

/** The account module's tables (users, revocations, login attempts, roles), run when the module is used. */
export const ACCOUNT_MIGRATIONS = { owner: "account", dir: fileURLToPath(new URL("./migrations/", import.meta.url)) };

export const accounts = provider<Accounts, AccountSettings>({
  name: "accounts",
  needs: [postgres],
  migrations: ACCOUNT_MIGRATIONS,
  commands: {
    roles: { summary: "define roles, grant and revoke them, list them (the first administrator)", run: async (args) => (await import("./roles-cli.ts")).roles(args) },
  },
  settings: accountSettings,
  // Tests hash at the lowest cost bcrypt takes, on one thread.
  testDefaults: { BCRYPT_COST: "4", BCRYPT_THREADS: "1" },
  async start({ get, settings, production, dataDir, log, reportLane }) {
    // Dev mode without a JWT_SECRET signs with a secret kept in DATA_DIR (production requires one).
    const jwtSecret = !production && settings.jwt.algorithm.startsWith("HS") && !settings.jwt.secret ? developmentSecret(dataDir, log) : undefined;
    const services = await buildServices(settings, get(postgres).then((p) => p.db as Kysely<Database>), log, { ...(jwtSecret ? { jwtSecret } : {}), purgeRevocations: true });
    reportLane(() => services.passwords.stats());
    return services;
  },
  stop: closeServices,
});
