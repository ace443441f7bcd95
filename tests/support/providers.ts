/** A ProviderHost for in-process dispatchers: the account services supplied when given. */
import { createLogger } from "../../src/ops/logger.ts";
import { ProviderHost } from "../../src/providers.ts";
import { accounts } from "../../account/index.ts";
import type { Services } from "../../account/services.ts";

export function providersWith(services?: Services): ProviderHost {
  const host = new ProviderHost({ log: createLogger({ level: "silent" }), production: false });
  if (services) host.supply(accounts, services);
  return host;
}
