/**
 * A second consumer process for tests/throttle.test.ts: builds its own services and dispatcher
 * on the database it is given and sends requests, all at once, then prints their status codes
 * as one JSON line. Usage: node --import tsx tests/support/login-client.ts '<json>' where
 * json = { url, env?, requests: [{ action, fields }] }.
 */
import { Dispatcher } from "../../src/actions/dispatcher.ts";
import { loadActions } from "../../src/actions/registry.ts";
import { createLogger } from "../../src/ops/logger.ts";
import { closeServices, createServices } from "./accounts.ts";
import { ACTIONS_DIR, testConfig } from "./accounts.ts";
import { providersWith } from "./providers.ts";

interface Job {
  url: string;
  env?: Record<string, string>;
  requests: Array<{ action: string; fields: unknown }>;
}

const job = JSON.parse(process.argv[2] ?? "{}") as Job;
const log = createLogger({ level: "silent" });
const config = testConfig(job.url, job.env);
const services = await createServices(config, log, { migrate: false });
const registry = await loadActions({ dir: ACTIONS_DIR, log });
const dispatcher = new Dispatcher({ registry, providers: providersWith(services), log, maxConcurrency: 64, queueLimit: 1024, actionTimeoutMs: 20_000 });
const answers = await Promise.all(
  job.requests.map((r, i) => dispatcher.dispatch({ action: r.action, fields: r.fields, response_ref: `${process.pid}-${i}` })),
);
process.stdout.write(JSON.stringify({ pid: process.pid, codes: answers.map((a) => a.status_code) }) + "\n");
await closeServices(services);
