/**
 * A sustained flood of logins for distinct unknown users at a multiple of the bcrypt capacity,
 * with cheap requests (Verify, Jwks) measured meanwhile: the figure that says whether cheap
 * work ever waits behind heavy work. Used by `npm run bench` (through a plugboard, the consumer
 * in its own process) and by tests/bcrypt-lane.test.ts (through the dispatcher).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { percentile } from "./load.ts";

/** Sends one request; resolves with its status code. */
export type Call = (action: string, fields: unknown) => Promise<number>;

export interface FloodOptions {
  call: Call;
  /** Logins per second the bcrypt lane can serve, measured beforehand. */
  capacityPerSecond: number;
  /** A token of a live account, for Verify. */
  token: string;
  /** The flood's rate as a multiple of the capacity. */
  overload: number;
  seconds: number;
  /** Existing accounts: every fifth login tries one of them with a wrong password (401), for timing parity. */
  knownUsernames?: string[];
}

export interface FloodResult {
  capacityPerSecond: number;
  offeredPerSecond: number;
  logins: {
    sent: number;
    served: number;
    refused: number;
    byStatus: Record<string, number>;
    servedP50Ms: number;
    refusedP99Ms: number;
    /** Median latency of the served logins by status (404 unknown user, 401 wrong password). */
    p50MsByStatus: Record<string, number>;
  };
  cheap: { count: number; failed: number; p50Ms: number; p99Ms: number; maxMs: number };
}

const TICK_MS = 10;

export async function loginFlood(options: FloodOptions): Promise<FloodResult> {
  const { call } = options;
  const offered = options.capacityPerSecond * options.overload;
  const byStatus: Record<string, number> = {};
  const servedMs: number[] = [];
  const refusedMs: number[] = [];
  const msByStatus: Record<string, number[]> = {};
  const known = options.knownUsernames ?? [];
  const logins: Array<Promise<void>> = [];
  let sent = 0;

  const login = async (i: number) => {
    const t0 = performance.now();
    const username = known.length > 0 && i % 5 === 0 ? known[(i / 5) % known.length]! : `flood-${i}-${process.pid}`;
    const status = await call("Login", { username, password: "flood-password" });
    const ms = performance.now() - t0;
    (status === 503 ? refusedMs : servedMs).push(ms);
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    (msByStatus[status] ??= []).push(ms);
  };

  let flooding = true;
  const cheapMs: number[] = [];
  let cheapFailed = 0;
  const cheap = (async () => {
    for (let i = 0; flooding; i++) {
      const t0 = performance.now();
      const status = await (i % 2 === 0 ? call("Verify", { jwt: options.token }) : call("Jwks", {}));
      cheapMs.push(performance.now() - t0);
      if (status !== 200) cheapFailed++;
      await sleep(5);
    }
  })();

  // Open loop: logins leave on schedule whatever the answers do, as a flood would.
  const started = performance.now();
  const end = started + options.seconds * 1000;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - started) / 1000) * offered);
    while (sent < due) logins.push(login(sent++));
    await sleep(TICK_MS);
  }
  await Promise.all(logins);
  flooding = false;
  await cheap;

  return {
    capacityPerSecond: options.capacityPerSecond,
    offeredPerSecond: offered,
    logins: {
      sent,
      served: servedMs.length,
      refused: refusedMs.length,
      byStatus,
      servedP50Ms: percentile(servedMs, 50),
      refusedP99Ms: percentile(refusedMs, 99),
      p50MsByStatus: Object.fromEntries(Object.entries(msByStatus).map(([status, ms]) => [status, percentile(ms, 50)])),
    },
    cheap: { count: cheapMs.length, failed: cheapFailed, p50Ms: percentile(cheapMs, 50), p99Ms: percentile(cheapMs, 99), maxMs: Math.max(...cheapMs) },
  };
}

/** Compares per second the lane completes with every thread busy: batches as wide as the threads. */
export async function measureCapacity(lane: { verify(password: string, digest: string): Promise<boolean>; hash(password: string): Promise<string> }, threads: number): Promise<number> {
  const digest = await lane.hash("capacity-probe");
  const batches = 4;
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) await Promise.all(Array.from({ length: threads }, () => lane.verify("capacity-probe", digest)));
  return (batches * threads * 1000) / (performance.now() - t0);
}
