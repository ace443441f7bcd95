/**
 * Waiting without sleeping: for one event of an emitter, or for a condition re-checked whenever
 * the board reports a change. Both reject after a timeout so a broken test fails, not hangs.
 */
import type { EventEmitter } from "node:events";

/** Resolves with the first argument of the next `event` that passes `filter`. */
export function waitForEvent(
  emitter: EventEmitter,
  event: string,
  timeoutMs: number,
  filter?: (...args: unknown[]) => boolean,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(onTimeout, timeoutMs);
    function listener(...args: unknown[]): void {
      if (filter && !filter(...args)) return;
      emitter.off(event, listener);
      clearTimeout(timer);
      resolve(args[0]);
    }
    function onTimeout(): void {
      emitter.off(event, listener);
      reject(new Error(`waitFor: no "${event}" event within ${timeoutMs} ms`));
    }
    emitter.on(event, listener);
  });
}

/** Conditions waiting to become true; the owner calls check() after every change. */
export class ConditionWaiters {
  private readonly waiters = new Set<() => void>();

  check(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  until(predicate: () => boolean, timeoutMs: number): Promise<void> {
    if (predicate()) return Promise.resolve();
    const waiters = this.waiters;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(onTimeout, timeoutMs);
      function waiter(): void {
        if (!predicate()) return;
        waiters.delete(waiter);
        clearTimeout(timer);
        resolve();
      }
      function onTimeout(): void {
        waiters.delete(waiter);
        reject(new Error(`waitFor: condition not met within ${timeoutMs} ms`));
      }
      waiters.add(waiter);
    });
  }
}
