/**
 * The account actions wired as in production — the account services (account/services.ts) on a
 * fresh, migrated database, the real registry over actions/ and the real dispatcher — with a log
 * the test can read.
 */
import { fileURLToPath } from "node:url";
import type { Kysely } from "kysely";
import { loadConfig, readSettings } from "../../src/config.ts";
import { createDatabase } from "../../src/db/database.ts";
import { migrateWithOwnPool } from "../../src/db/open-postgres.ts";
import { SERVICE_MIGRATIONS } from "./database.ts";
import type { Logger } from "../../src/ops/logger.ts";
import type { Database } from "../../account/schema.ts";
import { accountSettings, type AccountSettings } from "../../account/settings.ts";
import { loadActions } from "../../src/actions/registry.ts";
import { Dispatcher } from "../../src/actions/dispatcher.ts";
import type { AnswerPayload } from "../../src/actions/responses.ts";
import { buildServices, closeServices as closeAccountServices, type BuildOptions, type Services } from "../../account/services.ts";
import { createTestDatabase, type FreshDatabase } from "./database.ts";
import { captureLogs, type CapturedLogger } from "./logs.ts";
import { providersWith } from "./providers.ts";

/** This repository's app: the account actions, served by one line (app/actions/account.ts). */
export const ACTIONS_DIR = fileURLToPath(new URL("../../app/actions/", import.meta.url));
export const TEST_JWT_SECRET = "vera-test-secret-0123456789-abcdefghijklmnop";

/** The account settings of a test, and the database they run on. */
export type TestConfig = Readonly<AccountSettings> & { database: { url: string } };

/** Test settings: bcrypt cost 4, a fixed secret, the given database; `env` overrides, as environment variables. */
export function testConfig(databaseUrl: string, env: Record<string, string> = {}): TestConfig {
  const source = {
    JWT_SECRET: TEST_JWT_SECRET,
    BCRYPT_COST: "4",
    BCRYPT_THREADS: "2",
    ...env,
  };
  return { ...readSettings(accountSettings({ production: false, test: true }), source), database: { url: databaseUrl } };
}

/** The account services on `config.database` (migrated first unless `migrate: false`), as the accounts provider builds them. */
export async function createServices(config: TestConfig, log: Logger, options: BuildOptions & { migrate?: boolean } = {}): Promise<Services> {
  const { migrate, ...build } = options;
  if (migrate !== false) await migrateWithOwnPool(config.database.url, log, SERVICE_MIGRATIONS);
  const db = createDatabase<Database>({ url: config.database.url }, log);
  try {
    return await buildServices(config, db, log, build);
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/** Closes the services and their database pool. */
export async function closeServices(services: Services): Promise<void> {
  await closeAccountServices(services);
  await (services.db as Kysely<Database>).destroy();
}

export interface Accounts extends CapturedLogger {
  services: Services;
  dispatcher: Dispatcher;
  database: FreshDatabase;
  /** One request through the real dispatcher. */
  dispatch(action: string, fields: unknown): Promise<AnswerPayload>;
  /** Closes the services and drops the database (unless it was passed in). */
  close(): Promise<void>;
}

let refs = 0;

export async function startAccounts(
  options: { env?: Record<string, string>; database?: FreshDatabase; actionTimeoutMs?: number; logLevel?: string } = {},
): Promise<Accounts> {
  const database = options.database ?? (await createTestDatabase());
  const captured = captureLogs(options.logLevel ?? "info");
  const config = testConfig(database.url, options.env);
  const framework = loadConfig({ NODE_ENV: "test" });
  const services = await createServices(config, captured.log, {});
  const registry = await loadActions({ dir: ACTIONS_DIR, log: captured.log });
  const dispatcher = new Dispatcher({
    registry,
    providers: providersWith(services),
    log: captured.log,
    maxConcurrency: framework.maxConcurrency,
    queueLimit: framework.queueLimit,
    actionTimeoutMs: options.actionTimeoutMs ?? framework.actionTimeoutMs,
  });
  return {
    ...captured,
    services,
    dispatcher,
    database,
    dispatch: (action, fields) => dispatcher.dispatch({ action, fields, response_ref: `test-${++refs}` }),
    close: async () => {
      await closeServices(services);
      if (!options.database) await database.drop();
    },
  };
}

/** Registers an account and returns its JWT; fails the test unless the answer is 201. */
export async function register(accounts: Accounts, fields: Record<string, unknown>): Promise<string> {
  const answer = await accounts.dispatch("Register", { name: "Test User", password: "password123", ...fields });
  if (answer.status_code !== 201) throw new Error(`Register answered ${answer.status_code}: ${answer.message}`);
  return (answer.fields as { jwt: string }).jwt;
}
