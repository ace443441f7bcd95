/**
 * What the loaded actions need, started: the account services (database, migrations, password
 * pool, token keys) when an action needs the `accounts` provider — on the configured database
 * or the embedded one — and every other provider they declare. The app and the test kit
 * (src/testing.ts) both start theirs here. Nothing is started that no action needs.
 */
import type { Config } from "./config.ts";
import type { Logger } from "./ops/logger.ts";
import type { Registry } from "./actions/registry.ts";
import { accounts } from "./auth/accounts.ts";
import { embeddedDefaults } from "./embedded.ts";
import { ProviderHost } from "./providers.ts";
import { closeServices, createServices, type Services } from "./services.ts";

export interface StartedProviders {
  providers: ProviderHost;
  /** The account services, when an action needs them. */
  services: Services | undefined;
  /** Stops the providers, then the account services (and the embedded database they use). */
  close(): Promise<void>;
}

export async function startProviders(
  registry: Registry,
  config: Readonly<Config>,
  log: Logger,
  options: { purgeRevocations?: boolean } = {},
): Promise<StartedProviders> {
  const providers = new ProviderHost({ log, production: config.production });
  let services: Services | undefined;
  if (registry.providers.includes(accounts)) {
    const embedded = await embeddedDefaults(config, log);
    try {
      services = await createServices(config, log, { ...embedded, purgeRevocations: options.purgeRevocations ?? false });
    } catch (error) {
      await embedded.onClose?.().catch(() => undefined);
      throw error;
    }
    providers.supply(accounts, services);
  }
  const close = async () => {
    await providers.stop();
    if (services) await closeServices(services);
  };
  try {
    await providers.start(registry.providers.filter((p) => p !== accounts));
  } catch (error) {
    await close();
    throw error;
  }
  return { providers, services, close };
}
