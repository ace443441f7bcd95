/**
 * `npm run bench`: the figures the README's "Development" section lists (latest in bench/RESULTS.md),
 * measured side by side in one run on this machine.
 * It starts a real PostgreSQL (as the tests do), two dev plugboards, the consumer as its own
 * process configured through the environment — compiled and run by plain node, `npm start`'s
 * command (it builds dist/ first when stale) — and a bare `ws` client as the baseline; then
 * prints a table. Start-to-joined and RSS after 100k requests are also measured for the same
 * consumer run from the sources under tsx, the way it ran before the build, in the same run.
 * It reports; it does not judge (exit 0).
 *
 *   BENCH_SCALE=0.2 npm run bench   # a quicker, rougher run
 */
import type { ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { DevPlugboard } from "../src/devboard/server.ts";
import { createLogger } from "../src/ops/logger.ts";
import { createTestDatabase, startTestDatabase } from "../tests/support/database.ts";
import { buildForTests, compiledFixtures } from "../tests/support/build.ts";
import { closedLoop, median, percentile, type LoadResult } from "./load.ts";
import { burstFigures } from "./bursts.ts";
import { packageFigures } from "./package.ts";
import { memoryFigures } from "./memory.ts";
import { eventsPipeline } from "./events.ts";
import { measured, probe, spawnConsumer, spawnHelper, stopChild, waitJoined, type Measured, type Probe, type Runtime } from "./consumer.ts";

const SCALE = Number(process.env.BENCH_SCALE ?? "1");
const n = (count: number) => Math.max(10, Math.round(count * SCALE));
const BCRYPT_COST = 10;
const JWT_SECRET = "bench-secret-bench-secret-bench-secret-0123";
const CORES = availableParallelism();
const quiet = createLogger({ level: "silent" });

/**
 * The cheap requests the dispatch figures are measured with: Logout with a malformed token (401,
 * an account action), and examples/Greet.ts (200, a trivial action of an app's own). The bare
 * client answers each with the same payload the consumer does.
 */
const CHEAP = {
  logout: {
    label: "Logout, bad token → 401",
    request: () => ({ action: "Logout", fields: { jwt: "not-a-jwt" } }),
    answer: { status: "error", status_code: 401, message: "Invalid token: jwt malformed", fields: null },
  },
  greet: {
    label: "Greet, a trivial action → 200",
    request: () => ({ action: "Greet", fields: { name: "bench" } }),
    answer: { status: "success", status_code: 200, message: "Greeted", fields: { greeting: "Hello, bench!" } },
  },
} as const;
const cheap = CHEAP.logout.request;
/** Rounds of the dispatch figures, per kind of cheap request. */
const ROUNDS = 7;

const fmt = (x: number, digits = 2) => x.toFixed(digits);
const mb = (bytes: number) => bytes / 1024 / 1024;

type Row = string[];

/**
 * The dispatch figures for one kind of cheap request: the consumer given (already joined to
 * `board`) beside a bare `ws` client on a plugboard of its own answering the same payload, in
 * alternating rounds so noise hits both alike.
 */
async function dispatchFigures(kind: keyof typeof CHEAP, board: DevPlugboard, consumer: ChildProcess, rows: Row[]): Promise<void> {
  const { label, request, answer } = CHEAP[kind];
  const bareBoard = await DevPlugboard.start({ log: quiet });
  const bare = spawnHelper("bench/bare-client.ts", {
    WEBSOCKET_URL: bareBoard.socketUrl,
    TOKEN: bareBoard.token,
    ACTIONS: JSON.stringify(board.publishedActions()),
    ANSWER: JSON.stringify(answer),
  });
  try {
    await waitJoined(bareBoard);
    // Warm both up (JIT, pools) first.
    await closedLoop(board, { count: n(5000), inFlight: 64, request });
    await closedLoop(bareBoard, { count: n(5000), inFlight: 64, request });
    // Rounds alternate between the two, each measured right after the other, so the machine's
    // noise hits both alike; each figure is the median of the rounds' ratios, their range beside it.
    type Round = { ours: Measured; bare: Measured; oursLatency: LoadResult; bareLatency: LoadResult };
    const rounds: Round[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const bareRun = await measured(bare, () => closedLoop(bareBoard, { count: n(30_000), inFlight: 64, request }));
      const oursRun = await measured(consumer, () => closedLoop(board, { count: n(30_000), inFlight: 64, request }));
      const bareLatency = await closedLoop(bareBoard, { count: n(5000), inFlight: 1, request });
      const oursLatency = await closedLoop(board, { count: n(5000), inFlight: 1, request });
      rounds.push({ ours: oursRun, bare: bareRun, oursLatency, bareLatency });
    }
    const figure = (name: string, value: (r: Round, side: "ours" | "bare") => number, unit: (x: number) => string, target: string, holds: (ratio: number) => boolean, answers = "") => {
      const ratios = rounds.map((r) => value(r, "ours") / value(r, "bare"));
      const ratio = median(ratios);
      const ours = median(rounds.map((r) => value(r, "ours")));
      const bareValue = median(rounds.map((r) => value(r, "bare")));
      const range = `${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))}`;
      rows.push([name, unit(ours), `bare ws ${unit(bareValue)}`, `${fmt(ratio)}× (${range})`, target, held(holds(ratio)), answers]);
    };
    const statuses = new Map<number, number>();
    for (const r of rounds) for (const [status, count] of r.ours.statuses) statuses.set(status, (statuses.get(status) ?? 0) + count);
    const statusText = [...statuses].map(([s, c]) => `${c}×${s}`).join(" ");
    figure(`dispatch throughput (${label}, 64 in flight)`, (r, side) => r[side].perSecond, (x) => `${fmt(x, 0)} req/s`, "≥ 0.7×", (x) => x >= 0.7, statusText);
    figure(`CPU per request (${label}, answering process)`, (r, side) => r[side].cpuUsPerRequest, (x) => `${fmt(x, 1)} µs`, "≤ 1.5×", (x) => x <= 1.5);
    const latencyOf = (r: Round, side: "ours" | "bare", p: number) => percentile((side === "ours" ? r.oursLatency : r.bareLatency).latenciesMs, p);
    figure(`dispatch latency p50 (${label}, 1 in flight)`, (r, side) => latencyOf(r, side, 50), (x) => `${fmt(x, 3)} ms`, "≤ 1.3×", (x) => x <= 1.3);
    figure(`dispatch latency p99 (${label}, 1 in flight)`, (r, side) => latencyOf(r, side, 99), (x) => `${fmt(x, 3)} ms`, "≤ 2×", (x) => x <= 2);
  } finally {
    await stopChild(bare);
    await bareBoard.stop();
  }
}

/** Events through outbox → relay → Redis, or PostgreSQL as without REDIS_URL → subscriber (bench/events.ts). */
async function eventFigures(rows: Row[]): Promise<void> {
  for (const [transport, via] of [["redis", "Redis stream"], ["postgresql", "PostgreSQL (no REDIS_URL)"]] as const) {
    const figures = await eventsPipeline(n(20_000), transport);
    if (!figures) {
      rows.push([`events: outbox → ${via} → subscriber`, "(no redis-server binary)", "", "", "printed", "", ""]);
      continue;
    }
    rows.push([`events: outbox → ${via} → subscriber (8 writers)`, `${fmt(figures.perSecond, 0)} events/s`, `${figures.count} events`, "", "printed", "", ""]);
    rows.push([`events via ${via}: commit to handled, during that burst`, `p50 ${fmt(figures.lagP50Ms, 1)} ms`, `p99 ${fmt(figures.lagP99Ms, 1)} ms`, "", "printed", "", ""]);
    rows.push([`events via ${via}: commit to handled, at rest (one per 10 ms)`, `p50 ${fmt(figures.restLagP50Ms, 1)} ms`, `p99 ${fmt(figures.restLagP99Ms, 1)} ms`, "", "p99 < 1 s", held(figures.restLagP99Ms < 1000), ""]);
  }
}

const held = (yes: boolean) => (yes ? "yes" : "**no**");

/** The trivial action's figures: a consumer of examples/Greet.ts alone (compiled like any app's action), no database. */
async function greetFigures(rows: Row[]): Promise<void> {
  const board = await DevPlugboard.start({ log: quiet });
  const consumer = spawnConsumer("node", { ANSWER_HOLD_MS: "0", WEBSOCKET_URL: board.socketUrl, TOKEN: board.token, ACTIONS_DIR: compiledFixtures("greet-only") });
  try {
    await waitJoined(board);
    await dispatchFigures("greet", board, consumer, rows);
  } finally {
    await stopChild(consumer);
    await board.stop();
  }
}

/**
 * What ANSWER_HOLD_MS (the default, 5 ms) costs a trivial action: two consumers of
 * examples/Greet.ts, one holding fast answers back and one not, in alternating rounds.
 */
async function holdFigures(rows: Row[]): Promise<void> {
  const request = CHEAP.greet.request;
  const consumerWith = async (hold: string) => {
    const board = await DevPlugboard.start({ log: quiet });
    const consumer = spawnConsumer("node", { ANSWER_HOLD_MS: hold, WEBSOCKET_URL: board.socketUrl, TOKEN: board.token, ACTIONS_DIR: compiledFixtures("greet-only") });
    await waitJoined(board);
    await closedLoop(board, { count: n(5000), inFlight: 64, request });
    return { board, consumer };
  };
  const held = await consumerWith("5");
  const plain = await consumerWith("0");
  try {
    const cpu: Record<"held" | "plain", number[]> = { held: [], plain: [] };
    const rate: Record<"held" | "plain", number[]> = { held: [], plain: [] };
    const p50: Record<"held" | "plain", number[]> = { held: [], plain: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, side] of [["held", held], ["plain", plain]] as const) {
        const run = await measured(side.consumer, () => closedLoop(side.board, { count: n(20_000), inFlight: 64, request }));
        cpu[name].push(run.cpuUsPerRequest);
        rate[name].push(run.perSecond);
        p50[name].push(percentile((await closedLoop(side.board, { count: n(2000), inFlight: 1, request })).latenciesMs, 50));
      }
    }
    const ratio = (x: Record<"held" | "plain", number[]>) => median(x.held.map((v, i) => v / x.plain[i]!));
    rows.push(["ANSWER_HOLD_MS=5 vs 0: CPU per request (Greet, 64 in flight)", `${fmt(median(cpu.held), 1)} µs`, `hold 0: ${fmt(median(cpu.plain), 1)} µs`, `${fmt(ratio(cpu))}×`, "printed", "", ""]);
    rows.push(["ANSWER_HOLD_MS=5 vs 0: throughput (Greet, 64 in flight)", `${fmt(median(rate.held), 0)} req/s`, `hold 0: ${fmt(median(rate.plain), 0)} req/s`, `${fmt(ratio(rate))}×`, "printed", "", ""]);
    rows.push(["ANSWER_HOLD_MS=5 vs 0: latency p50 (Greet, 1 in flight)", `${fmt(median(p50.held), 2)} ms`, `hold 0: ${fmt(median(p50.plain), 3)} ms`, "", "≈ the hold", "", ""]);
  } finally {
    for (const side of [held, plain]) {
      await stopChild(side.consumer);
      await side.board.stop();
    }
  }
}

function printTable(rows: Row[]): void {
  const header = ["figure", "vera-service", "baseline", "ratio", "target", "held?", "answers"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${header.map((_, i) => (cells[i] ?? "").padEnd(widths[i]!)).join(" | ")} |`;
  const out = [
    `vera-service benchmark — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${CORES} cores, scale ${SCALE}`,
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}

async function main(): Promise<void> {
  const only = process.argv[2];
  if (only !== undefined && !["dispatch", "events", "bursts", "hold", "package", "memory"].includes(only)) {
    throw new Error(`unknown section "${only}": \`npm run bench\` runs every figure but the package's, \`npm run bench -- dispatch\`, \`-- events\`, \`-- bursts\`, \`-- hold\`, \`-- package\` or \`-- memory\` one section`);
  }
  if (only === "package") {
    // Needs the registry, and none of the servers below (bench/package.ts).
    const rows: Row[] = [];
    await packageFigures(rows);
    printTable(rows);
    return;
  }
  // The consumer runs the build output: make it current (npm start's own pre-step), with the
  // examples compiled beside it (examples/Greet.ts, the trivial action).
  buildForTests();
  const rows: Row[] = [];
  const row = (...cells: string[]) => rows.push(cells.length === 6 ? [...cells.slice(0, 5), "", cells[5]!] : cells);
  const database = await startTestDatabase();
  if (!database.env.TEST_DATABASE_URL) throw new Error(`no PostgreSQL for the benchmark: ${database.description}`);
  process.env.TEST_DATABASE_URL = database.env.TEST_DATABASE_URL;
  const fresh = await createTestDatabase({ adminUrl: database.env.TEST_DATABASE_URL });

  const consumerEnv = (target: DevPlugboard) => ({
    // The framework's own cost, beside a bare client's: without the hold for the Vera Plugboard's
    // registration race (the dev plugboard has none); holdFigures measures what the hold costs.
    ANSWER_HOLD_MS: "0",
    WEBSOCKET_URL: target.socketUrl,
    TOKEN: target.token,
    JWT_SECRET,
    DATABASE_URL: fresh.url,
    BCRYPT_COST: String(BCRYPT_COST),
  });
  // Each group of burst figures has a consumer of its own on a fresh database (bench/bursts.ts).
  const burstEnv = async () => ({ JWT_SECRET, DATABASE_URL: (await createTestDatabase({ adminUrl: database.env.TEST_DATABASE_URL })).url });
  const board = await DevPlugboard.start({ log: quiet });
  const consumer = spawnConsumer("node", consumerEnv(board));
  try {
    await waitJoined(board);
    if (only === undefined || only === "dispatch") {
      await dispatchFigures("logout", board, consumer, rows);
      await greetFigures(rows);
    }
    if (only === undefined || only === "hold") await holdFigures(rows);
    if (only === undefined || only === "events") await eventFigures(rows);
    if (only === undefined || only === "memory") {
      await memoryFigures(rows, async () => (await createTestDatabase({ adminUrl: database.env.TEST_DATABASE_URL })).url);
    }
    if (only === "bursts") await burstFigures(rows, burstEnv, SCALE);
    if (only !== undefined) return;

    await burstFigures(rows, burstEnv, SCALE);

    const memory: Probe[] = [];
    for (let block = 0; block < 3; block++) {
      const count = block === 0 ? n(100_000) : n(50_000);
      await closedLoop(board, { count, inFlight: 64, request: cheap });
      await sleep(200);
      memory.push(await probe(consumer));
    }
    const [first, second, third] = memory as [Probe, Probe, Probe];
    row("memory: RSS after 100k requests (after the loads above)", `${fmt(mb(first.rssBytes), 1)} MB`, `after a full GC ${fmt(mb(first.rssAfterGcBytes), 1)} MB`, "", "< 100 MB", "");
    row(
      "memory: growth between the 2nd and 3rd 50k",
      `${fmt(mb(third.rssBytes - second.rssBytes), 1)} MB`,
      `after a full GC ${fmt(mb(third.rssAfterGcBytes - second.rssAfterGcBytes), 1)} MB (${fmt(mb(second.rssAfterGcBytes), 1)} → ${fmt(mb(third.rssAfterGcBytes), 1)} MB)`,
      "",
      "< 5 MB",
      "",
    );
    await stopChild(consumer);

    // Production (plain node on dist/) against the same consumer under tsx, alternately, each on
    // a board of its own: time from spawn to joined, then a fresh replica's RSS after 100k requests.
    const STARTS = 3;
    const joinMs: Record<Runtime, number[]> = { node: [], tsx: [] };
    const replicaRss: Partial<Record<Runtime, Probe>> = {};
    for (let round = 0; round < STARTS; round++) {
      for (const runtime of ["node", "tsx"] as const) {
        const own = await DevPlugboard.start({ log: quiet });
        const started = performance.now();
        const replica = spawnConsumer(runtime, consumerEnv(own));
        try {
          await waitJoined(own);
          joinMs[runtime].push(performance.now() - started);
          if (round === STARTS - 1) {
            await closedLoop(own, { count: n(100_000), inFlight: 64, request: cheap });
            await sleep(200);
            replicaRss[runtime] = await probe(replica);
          }
        } finally {
          await stopChild(replica);
          await own.stop();
        }
      }
    }
    const joinNode = median(joinMs.node);
    const joinTsx = median(joinMs.tsx);
    row(
      `start to joined (median of ${STARTS}, plain node on dist/)`,
      `${fmt(joinNode / 1000)} s`,
      `tsx ${fmt(joinTsx / 1000)} s (node ${joinMs.node.map((m) => fmt(m / 1000)).join("/")}, tsx ${joinMs.tsx.map((m) => fmt(m / 1000)).join("/")})`,
      `${fmt(joinNode / joinTsx)}×`,
      "< 1.5 s",
      "",
    );
    const rssNode = replicaRss.node!;
    const rssTsx = replicaRss.tsx!;
    row(
      `replica RSS after ${n(100_000)} requests (fresh, plain node on dist/)`,
      `${fmt(mb(rssNode.rssBytes), 1)} MB`,
      `tsx ${fmt(mb(rssTsx.rssBytes), 1)} MB (after a full GC: node ${fmt(mb(rssNode.rssAfterGcBytes), 1)} MB, tsx ${fmt(mb(rssTsx.rssAfterGcBytes), 1)} MB)`,
      `${fmt(rssNode.rssBytes / rssTsx.rssBytes)}×`,
      "< 100 MB",
      "",
    );
  } finally {
    await stopChild(consumer);
    await board.stop();
    await fresh.drop().catch(() => undefined);
    await database.stop();
    printTable(rows);
  }
}

await main();
process.exit(0);
