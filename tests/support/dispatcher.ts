/** An in-process dispatcher over a folder of fixture actions, its logs captured. */
import { Dispatcher, type DispatcherOptions } from "../../src/actions/dispatcher.ts";
import { loadActions, register, Registry } from "../../src/actions/registry.ts";
import type { ActionClass } from "../../src/actions/action.ts";
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

/** An in-process dispatcher over the given action classes. */
export function dispatcherFor(classes: ActionClass[], overrides: Partial<DispatcherOptions> = {}): Dispatcher {
  const captured = captureLogs();
  return new Dispatcher({
    registry: new Registry(classes.map((cls) => register(cls, "(test)"))),
    providers: providersWith(),
    log: captured.log,
    maxConcurrency: 8,
    queueLimit: 8,
    actionTimeoutMs: 5_000,
    ...overrides,
  });
}
