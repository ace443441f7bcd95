/**
 * Finds the subscribers of an app: every value made by `subscriber()` that a file in the
 * subscribers folder exports (SUBSCRIBERS_DIR; unset: subscribers/ beside the running code). No
 * folder: no subscribers. Two with one name stop the start: their idempotency records would mix.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import fg from "fast-glob";
import type { Logger } from "../ops/logger.ts";
import { IGNORED, SOURCE_PATTERN, importFresh } from "../actions/registry.ts";
import { isSubscriber, type Subscriber } from "./subscribers.ts";

export async function loadSubscribers(dir: string, log: Logger, version?: number): Promise<Subscriber[]> {
  if (!existsSync(dir)) return [];
  const found = new Map<string, Subscriber>();
  for (const file of (await fg(SOURCE_PATTERN, { cwd: dir, absolute: true, ignore: IGNORED })).sort()) {
    const mod = await importFresh(file, version);
    for (const value of Object.values(mod).filter(isSubscriber)) {
      const other = found.get(value.name);
      if (other && other !== value) throw new Error(`two subscribers are named ${JSON.stringify(value.name)} (${path.relative(process.cwd(), file)}): a name must be unique`);
      found.set(value.name, value);
    }
  }
  if (found.size > 0) log.info({ subscribers: [...found.keys()] }, "subscribers loaded");
  return [...found.values()];
}
