/**
 * The dev loop's eyes: watches a folder of the app (ACTIONS_WATCH: its actions, its subscribers)
 * and calls `changed` once a burst of file events has settled — an editor's save is often several events (write, rename,
 * chmod) within a few milliseconds. Calls never overlap: a change during a reload is answered
 * by one more reload after it.
 */
import { watch, type FSWatcher } from "node:fs";
import type { Logger } from "./ops/logger.ts";

/** How long the folder must be quiet before a reload starts. */
const SETTLE_MS = 100;

export interface FolderWatcher {
  close(): void;
}

export function watchFolder(dir: string, what: string, log: Logger, changed: () => Promise<void>): FolderWatcher {
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
      .catch((error: unknown) => log.error({ err: error }, `reloading the ${what} failed: the last good set keeps serving`))
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
  watcher.on("error", (error) => log.warn({ err: error }, `watching the ${what} folder failed: changes are no longer picked up`));
  log.info({ dir }, `watching the ${what} folder: a change reloads them`);
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
