/**
 * Backoff schedules as `(tries) => ms` functions, so tests can pass their own.
 * Jitter spreads the reconnects of many replicas after a plugboard restart.
 */
import { RECONNECT_MAX_MS, RECONNECT_MIN_MS, REFUSED_RECONNECT_MAX_MS } from "./wire.ts";

function jittered(ms: number, random: () => number): number {
  return Math.round(ms / 2 + (random() * ms) / 2);
}

/** 10 ms doubling to 5 s; after a 403 refusal, 1 s growing to 30 s (a bad token will not heal fast). */
export function reconnectBackoff(tries: number, refused: boolean, random: () => number = Math.random): number {
  const n = Math.max(1, tries);
  if (refused) return jittered(Math.min(REFUSED_RECONNECT_MAX_MS, 1_000 * 1.5 ** (n - 1)), random);
  return jittered(Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (n - 1)), random);
}

/** Rejoin on the same socket: 100 ms growing to 5 s. */
export function rejoinBackoff(tries: number, random: () => number = Math.random): number {
  return jittered(Math.min(5_000, 100 * 2 ** (Math.max(1, tries) - 1)), random);
}
