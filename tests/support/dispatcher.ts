/** An in-process dispatcher over a folder of fixture actions, its logs captured. */
import { Dispatcher, type DispatcherOptions } from "../../src/actions/dispatcher.ts";
import { loadActions } from "../../src/actions/registry.ts";
import { captureLogs } from "./logs.ts";
import { providersWith } from "./providers.ts";

export async function inProcessDispatcher(dir: string, overrides: Partial<DispatcherOptions> = {}) {
  const captured = captureLogs();
  const registry = await loadActions({ dir, log: captured.log });
  const d = new Dispatcher({
    registry,
    providers: providersWith(),
    log: captured.log,
    maxConcurrency: 8,
    queueLimit: 8,
    actionTimeoutMs: 5_000,
    ...overrides,
  });
  return { d, registry, ...captured };
}
