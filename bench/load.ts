/** Closed-loop load through a dev plugboard, and the statistics of what it measured. */
import type { DevPlugboard } from "../src/devboard/server.ts";

export interface LoadResult {
  count: number;
  seconds: number;
  perSecond: number;
  latenciesMs: number[];
  statuses: Map<number, number>;
}

/** Sends `count` requests keeping `inFlight` outstanding; each answer's latency is recorded. */
export async function closedLoop(
  board: DevPlugboard,
  options: { count: number; inFlight: number; request: (i: number) => { action: string; fields: unknown } },
): Promise<LoadResult> {
  const latenciesMs: number[] = new Array(options.count);
  const statuses = new Map<number, number>();
  let next = 0;
  const started = performance.now();
  async function worker() {
    while (next < options.count) {
      const i = next++;
      const { action, fields } = options.request(i);
      const t0 = performance.now();
      const answer = await board.request(action, fields);
      latenciesMs[i] = performance.now() - t0;
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    }
  }
  await Promise.all(Array.from({ length: options.inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { count: options.count, seconds, perSecond: options.count / seconds, latenciesMs, statuses };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}
