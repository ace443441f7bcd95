/**
 * `npm run bench:profile`: where a consumer's CPU goes per request, in steady state. Starts the
 * consumer as `npm start` runs it (plain node on dist/, production), warms it up, then samples
 * its main thread with V8's profiler while the benchmark's cheap load runs (64 in flight), and
 * prints the time per request of each component a request passes through (bench/breakdown.ts)
 * and of each file. Start-up and warm-up are not in the profile. The raw profiles are written to
 * .data/profiles/ (open them in Chrome DevTools, Performance tab).
 *
 *   npm run bench:profile                 # both loads, 50,000 requests each
 *   npm run bench:profile -- greet 20000  # one load: logout (Logout, bad token → 401) or greet (examples/Greet.ts)
 *   npm run bench:profile -- logout 5000 1  # … with 1 in flight (the latency figure's load) instead of 64
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { DevPlugboard } from "../src/devboard/server.ts";
import { createLogger } from "../src/ops/logger.ts";
import { createTestDatabase, startTestDatabase } from "../tests/support/database.ts";
import { buildForTests, compiledFixtures } from "../tests/support/build.ts";
import { breakdown, type CpuProfile } from "./breakdown.ts";
import { ask, cpuMs, spawnConsumer, stopChild, waitJoined } from "./consumer.ts";
import { closedLoop } from "./load.ts";
import { readFileSync } from "node:fs";

export const LOADS = {
  logout: { action: "Logout", fields: { jwt: "not-a-jwt" } },
  greet: { action: "Greet", fields: { name: "bench" } },
} as const;
type LoadName = keyof typeof LOADS;

const OUT_DIR = path.resolve(".data/profiles");
const quiet = createLogger({ level: "silent" });

async function profileOne(load: LoadName, count: number, inFlight: number, env: Record<string, string>): Promise<void> {
  const board = await DevPlugboard.start({ log: quiet });
  const consumer = spawnConsumer("node", { WEBSOCKET_URL: board.socketUrl, TOKEN: board.token, ...env }, { profile: true });
  try {
    await waitJoined(board);
    const request = () => LOADS[load];
    await closedLoop(board, { count: Math.min(count, 10_000), inFlight, request });
    await ask(consumer, { profile: "start", intervalUs: 100 }, (r) => (r as { profiling?: boolean }).profiling === true);
    const cpuBefore = cpuMs(consumer);
    const result = await closedLoop(board, { count, inFlight, request });
    const cpuUs = (cpuMs(consumer) - cpuBefore) * 1000;
    const file = path.join(OUT_DIR, `${load}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
    await ask(consumer, { profile: "stop", file }, (r) => (r as { profiled?: string }).profiled === file);
    const { totalMs, components, files } = breakdown(JSON.parse(readFileSync(file, "utf8")) as CpuProfile);

    const statuses = [...result.statuses].map(([s, c]) => `${c}×${s}`).join(" ");
    const perRequest = (ms: number) => ((ms * 1000) / result.count).toFixed(2).padStart(7);
    const share = (ms: number) => `${((ms / totalMs) * 100).toFixed(1)}%`.padStart(6);
    const lines = [
      ``,
      `${load}: ${result.count} requests (${statuses}), ${inFlight} in flight, at ${Math.round(result.perSecond)} req/s; process CPU ${(cpuUs / result.count).toFixed(1)} µs/request (all threads, profiler running)`,
      `main thread sampled: ${totalMs.toFixed(0)} ms over ${(result.seconds * 1000).toFixed(0)} ms — ${file}`,
      ``,
      `  µs/req   share  component`,
      ...components.map((c) => `  ${perRequest(c.ms)} ${share(c.ms)}  ${c.name}`),
      ``,
      `  µs/req   share  file (self time; builtins under their caller's file)`,
      ...files.slice(0, 15).map((f) => `  ${perRequest(f.ms)} ${share(f.ms)}  ${f.file}`),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await stopChild(consumer);
    await board.stop();
  }
}

async function main(): Promise<void> {
  const [which, countText, inFlightText] = process.argv.slice(2);
  const loads = which ? [which as LoadName] : (Object.keys(LOADS) as LoadName[]);
  for (const load of loads) if (!(load in LOADS)) throw new Error(`unknown load "${load}": one of ${Object.keys(LOADS).join(", ")}`);
  const count = Number(countText ?? "50000");
  const inFlight = Number(inFlightText ?? "64");
  mkdirSync(OUT_DIR, { recursive: true });
  // The account actions need their database; Greet runs alone, compiled like any outside action.
  buildForTests();
  const database = await startTestDatabase();
  try {
    for (const load of loads) {
      if (load === "greet") {
        await profileOne(load, count, inFlight, { ACTIONS_DIR: compiledFixtures("greet-only") });
      } else {
        const fresh = await createTestDatabase({ adminUrl: database.env.TEST_DATABASE_URL! });
        try {
          await profileOne(load, count, inFlight, { DATABASE_URL: fresh.url, JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123" });
        } finally {
          await fresh.drop().catch(() => undefined);
        }
      }
    }
  } finally {
    await database.stop();
  }
}

await main();
process.exit(0);
