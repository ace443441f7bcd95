/**
 * The dev loop's eyes: watches the actions folder (ACTIONS_WATCH) and calls `changed` once a
 * burst of file events has settled — an editor's save is often several events (write, rename,
 * chmod) within a few milliseconds. Calls never overlap: a change during a reload is answered
 * by one more reload after it.
 */
import { watch, type FSWatcher } from "node:fs";
import type { Logger } from "../ops/logger.ts";

/** How long the folder must be quiet before a reload starts. */
const SETTLE_MS = 100;

export interface ActionsWatcher {
  close(): void;
}

export function watchActions(dir: string, log: Logger, changed: () => Promise<void>): ActionsWatcher {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const reload = () => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = changed()
      .catch((error: unknown) => log.error({ err: error }, "reloading the actions failed: the last good set keeps serving"))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          reload();
        }
      });
  };

  const watcher: FSWatcher = watch(dir, { recursive: true }, () => {
    clearTimeout(timer);
    timer = setTimeout(reload, SETTLE_MS);
  });
  watcher.on("error", (error) => log.warn({ err: error }, "watching the actions folder failed: changes are no longer picked up"));
  log.info({ dir }, "watching the actions folder: a change republishes the actions");
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
