/**
 * An in-process consumer for wire tests: the real registry, dispatcher and plugboard client,
 * pointed at a dev plugboard, with fast backoff and a log the test can read.
 */
import { loadActions, type Registry } from "../../src/actions/registry.ts";
import { Dispatcher, type DispatcherOptions } from "../../src/actions/dispatcher.ts";
import { PlugboardClient, type PlugboardClientOptions } from "../../src/plugboard/client.ts";
import { handlers } from "../../src/plugboard/pushes/index.ts";
import { captureLogs, type CapturedLogger } from "./logs.ts";
import { providersWith } from "./providers.ts";

export interface TestConsumer extends CapturedLogger {
  client: PlugboardClient;
  dispatcher: Dispatcher;
  registry: Registry;
  fatal: Array<{ reason: string; exitCode: number }>;
  stop(): Promise<void>;
}

export async function startConsumer(options: {
  url: string;
  token: string;
  actionsDir?: string;
  heartbeatIntervalMs?: number;
  maxConcurrency?: number;
  actionTimeoutMs?: number;
  client?: Partial<PlugboardClientOptions>;
  dispatcher?: Partial<DispatcherOptions>;
  logLevel?: string;
}): Promise<TestConsumer> {
  const captured = captureLogs(options.logLevel ?? "debug");
  const registry = await loadActions({ dir: options.actionsDir ?? "tests/fixtures/actions", log: captured.log });
  const dispatcher = new Dispatcher({
    registry,
    providers: providersWith(),
    log: captured.log,
    maxConcurrency: options.maxConcurrency ?? 64,
    queueLimit: 1024,
    actionTimeoutMs: options.actionTimeoutMs ?? 5_000,
    ...options.dispatcher,
  });
  const fatal: TestConsumer["fatal"] = [];
  const client = new PlugboardClient({
    url: options.url,
    token: options.token,
    actionsJson: registry.json,
    log: captured.log,
    handlers,
    dispatch: (request, done) => dispatcher.answer(request, done),
    onFatal: (reason, exitCode) => fatal.push({ reason, exitCode }),
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 30_000,
    reconnectAfterMs: () => 20,
    rejoinAfterMs: () => 20,
    ...options.client,
  });
  client.start();
  return { ...captured, client, dispatcher, registry, fatal, stop: () => client.stop() };
}

/** Polls a condition (cheap checks only) until it holds or the timeout passes. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
