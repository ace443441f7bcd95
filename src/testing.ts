/**
 * `vera-service/testing`: runs actions in-process, as the service would run them — validated,
 * behind their middleware, with the providers they need started (the account services on a real
 * PostgreSQL: DATABASE_URL when given, else an embedded one in a temporary folder) — without a
 * plugboard or a socket. Output schemas are checked, as in development.
 *
 *   const kit = await startTestKit({ actions: [Greet] });
 *   const answer = await kit.call("Greet", { name: "Ada" });   // { status, status_code, message, fields }
 *   await kit.close();
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isActionClass, type ActionClass } from "./actions/action.ts";
import { Dispatcher, configuredLimits } from "./actions/dispatcher.ts";
import { configuredCaller } from "./calls/caller.ts";
import { loadActions, register, Registry } from "./actions/registry.ts";
import type { AnswerPayload } from "./actions/responses.ts";
import { loadConfig } from "./config.ts";
import { createLogger, type Logger } from "./ops/logger.ts";
import { dependencyOrder, type Provider } from "./providers.ts";
import { startProviders } from "./start-providers.ts";

export interface TestKitOptions {
  /** The actions: their classes, or a folder to load them from as the service does. */
  actions: readonly ActionClass[] | string;
  /**
   * Settings, as environment variables (DATABASE_URL, PLUGBOARD_HTTP_URL and PLUGBOARD_API_TOKEN
   * for ctx.call, a module's own such as BCRYPT_COST …). Unset: NODE_ENV=test, and each used
   * provider's `testDefaults` (the account module's: BCRYPT_COST=4, one thread); a secret a
   * module would generate in dev (JWT_SECRET) is generated in the kit's temporary DATA_DIR.
   */
  env?: Record<string, string>;
  /** Where the kit logs; default: nowhere. */
  log?: Logger;
}

export interface TestKit {
  /** Calls an action as a plugboard request would, and resolves with its answer. */
  call(action: string, fields?: unknown): Promise<AnswerPayload>;
  /** A provider's value (what the actions read with ctx.get). */
  get<T>(provider: Provider<T>): T;
  /** Stops the providers and the database the kit started, and removes its temporary folder. */
  close(): Promise<void>;
}


export async function startTestKit(options: TestKitOptions): Promise<TestKit> {
  const log = options.log ?? createLogger({ level: "silent" });
  const dataDir = mkdtempSync(path.join(tmpdir(), "vera-test-kit-"));
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  const registry =
    typeof options.actions === "string"
      ? await loadActions({ dir: options.actions, log, strict: true })
      : new Registry(options.actions.filter(isActionClass).map((cls) => register(cls, "(test kit)")));
  // Each provider's own test settings (the account module's low bcrypt cost), under the test's.
  const testDefaults = Object.assign({}, ...dependencyOrder(registry.providers).map((p) => p.testDefaults ?? {})) as Record<string, string>;
  const config = loadConfig({ NODE_ENV: "test", ...testDefaults, DATA_DIR: dataDir, ...options.env });
  let started;
  try {
    started = await startProviders(registry.providers, config, log);
  } catch (error) {
    removeDataDir();
    throw error;
  }
  // ctx.call reaches other services when the env names a plugboard (PLUGBOARD_HTTP_URL, PLUGBOARD_API_TOKEN): a dev plugboard in tests.
  const caller = configuredCaller(config.calls, log);
  const dispatcher = new Dispatcher({
    ...(caller ? { caller } : {}),
    registry,
    providers: started.providers,
    checkOutputs: true,
    log,
    ...configuredLimits(config),
  });
  let calls = 0;
  const { providers } = started;
  return {
    call: (action, fields = {}) => dispatcher.dispatch({ action, fields, response_ref: `test-kit-${++calls}` }),
    get: (provider) => providers.get(provider),
    async close() {
      await dispatcher.drain();
      caller?.close();
      await started.close();
      removeDataDir();
    },
  };
}
