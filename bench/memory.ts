/**
 * `npm run bench -- memory`: what a replica holds, on the image's Node (24, from the npm
 * registry's `node` package unless BENCH_NODE names a binary), beside bare node in the same run,
 * three rounds:
 *
 * - an app of examples/Greet.ts alone (no database, no account module): RSS idle and after
 *   100,000 Greets at 64 in flight (target ≤ 64 MB);
 * - the account service on PostgreSQL: RSS idle and after 100,000 requests, Logout with a junk
 *   token (401) and Verify of a real token alternately (target ≤ 100 MB);
 * - start to joined of each, production build on plain node (target ≤ 1 s, median of 3);
 * - bare node with the same probe, idle.
 *
 * Each replica runs as the image runs it (production mode, metrics on HEALTH_PORT), with the
 * benchmark's probe preloaded (bench/loop-probe.mjs: RSS, and RSS after a full GC).
 */
import { execFileSync, fork } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { DevPlugboard } from "../src/devboard/server.ts";
import { createLogger } from "../src/ops/logger.ts";
import { compiledFixtures } from "../tests/support/build.ts";
import { closedLoop, median } from "./load.ts";
import { probe, spawnConsumer, stopChild, waitJoined, type Probe } from "./consumer.ts";

type Row = string[];

const quiet = createLogger({ level: "silent" });
const ROUNDS = 3;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const seconds = (ms: number) => (ms / 1000).toFixed(2);
const range = (values: number[], unit: (x: number) => string) => `${unit(Math.min(...values))}–${unit(Math.max(...values))}`;

/** The Node the image runs: BENCH_NODE, else node@24 from the npm registry (as .ci/run gets it). */
function imageNode(): string {
  if (process.env.BENCH_NODE) return process.env.BENCH_NODE;
  const printed = execFileSync("npm", ["exec", "--yes", "--package=node@24", "--call", "node -p process.execPath"], { encoding: "utf8" });
  return printed.trim().split("\n").at(-1)!;
}

/** Bare node with the same probe, idle for a second. */
async function bareNode(execPath: string): Promise<Probe> {
  const child = fork("bench/bare-node.mjs", [], { execPath, execArgv: ["--expose-gc", "--import", "./bench/loop-probe.mjs"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  try {
    await sleep(1_000);
    return await probe(child);
  } finally {
    child.kill("SIGKILL");
  }
}

interface Replica {
  joinedMs: number;
  idle: Probe;
  loaded: Probe;
  statuses: string;
}

async function replica(
  execPath: string,
  env: Record<string, string>,
  request: (i: number) => { action: string; fields: unknown },
  /** The statuses the load must get: a figure of a load that failed is no figure. */
  expected: readonly number[],
  prepare?: (board: DevPlugboard) => Promise<void>,
): Promise<Replica> {
  const board = await DevPlugboard.start({ log: quiet });
  const started = performance.now();
  const child = spawnConsumer("node", { ANSWER_HOLD_MS: "0", WEBSOCKET_URL: board.socketUrl, TOKEN: board.token, ...env }, { execPath });
  try {
    await waitJoined(board);
    const joinedMs = performance.now() - started;
    await prepare?.(board);
    await sleep(500);
    const idle = await probe(child);
    const load = await closedLoop(board, { count: 100_000, inFlight: 64, request });
    const unexpected = [...load.statuses.keys()].filter((status) => !expected.includes(status));
    if (unexpected.length > 0) throw new Error(`the load got ${[...load.statuses].map(([status, count]) => `${count}×${status}`).join(" ")}: not a figure`);
    await sleep(200);
    const loaded = await probe(child);
    return { joinedMs, idle, loaded, statuses: [...load.statuses].map(([status, count]) => `${count}×${status}`).join(" ") };
  } finally {
    await stopChild(child);
    await board.stop();
  }
}

export async function memoryFigures(rows: Row[], databaseUrl: () => Promise<string>): Promise<void> {
  const execPath = imageNode();
  const version = execFileSync(execPath, ["--version"], { encoding: "utf8" }).trim();
  const bare: Probe[] = [];
  const greet: Replica[] = [];
  const account: Replica[] = [];
  const jwtSecret = "bench-memory-secret-bench-memory-secret-01";
  for (let round = 0; round < ROUNDS; round++) {
    bare.push(await bareNode(execPath));
    greet.push(await replica(execPath, { ACTIONS_DIR: compiledFixtures("greet-only") }, (i) => ({ action: "Greet", fields: { name: `n${i % 100}` } }), [200]));
    let jwt = "";
    account.push(
      await replica(
        execPath,
        { JWT_SECRET: jwtSecret, DATABASE_URL: await databaseUrl(), BCRYPT_COST: "10" },
        (i) => (i % 2 === 0 ? { action: "Logout", fields: { jwt: "not-a-jwt" } } : { action: "Verify", fields: { jwt } }),
        [401, 200],
        async (board) => {
          await board.request("Register", { name: "Bench", username: "bench_memory", password: "correct horse battery" });
          const login = await board.request("Login", { username: "bench_memory", password: "correct horse battery" });
          jwt = String((login.body as { fields?: { jwt?: string } }).fields?.jwt ?? "");
          if (!jwt) throw new Error(`no token for the Verify half of the mix: ${JSON.stringify(login.body)}`);
        },
      ),
    );
  }
  const bareRss = median(bare.map((p) => p.rssBytes));
  const held = (yes: boolean) => (yes ? "yes" : "**no**");
  rows.push([`bare node ${version}, idle (median of ${ROUNDS})`, `${mb(bareRss)} MB`, "", "", "", "", `range ${range(bare.map((p) => p.rssBytes), mb)} MB`]);
  for (const [label, runs, target] of [
    ["Greet-only app", greet, 64],
    ["account service (Logout 401 / Verify)", account, 100],
  ] as const) {
    const loaded = median(runs.map((r) => r.loaded.rssBytes));
    const idle = median(runs.map((r) => r.idle.rssBytes));
    const joined = median(runs.map((r) => r.joinedMs));
    rows.push([
      `${label}: RSS after 100,000 requests, ${version}`,
      `${mb(loaded)} MB`,
      `bare node ${mb(bareRss)} MB`,
      `+${mb(loaded - bareRss)} MB`,
      `≤ ${target} MB`,
      held(loaded <= target * 1024 * 1024),
      `range ${range(runs.map((r) => r.loaded.rssBytes), mb)} MB; idle ${mb(idle)} MB; after a full GC ${mb(median(runs.map((r) => r.loaded.rssAfterGcBytes)))} MB; ${runs.at(-1)!.statuses}`,
    ]);
    rows.push([`${label}: start to joined, ${version}`, `${seconds(joined)} s`, "", "", "≤ 1 s", held(joined <= 1_000), `runs ${runs.map((r) => seconds(r.joinedMs)).join(" / ")} s`]);
  }
}
