/**
 * Bursts and floods against the bcrypt lane (`npm run bench -- bursts`, and part of
 * `npm run bench`): each figure beside the machine's bcrypt limit, measured in the same run
 * (cores ÷ the time of one comparison). The consumer is its own process, production build.
 *
 * - an ordinary burst of sign-ups (60 Registers at once) and of sign-ins (40 Logins at once):
 *   every one served, at what share of the bcrypt limit;
 * - a flood of 600 unknown-user logins at once: cheap calls (Verify, Jwks) meanwhile, what is
 *   served and what is refused at once, and how long a real user retrying every 500 ms waits;
 * - a sustained flood at 4× the limit, and 400 at once at cost 12 (the earlier flood figures);
 * - the worker threads at a lower OS priority or not, on an idle machine: bcrypt's throughput.
 */
import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import bcrypt from "bcryptjs";
import { DevPlugboard } from "../src/devboard/server.ts";
import { createLogger } from "../src/ops/logger.ts";
import { Passwords } from "../account/passwords.ts";
import { closedLoop, median, percentile } from "./load.ts";
import { loginFlood } from "./flood.ts";
import { spawnConsumer, stopChild, waitJoined } from "./consumer.ts";

export type Row = string[];

const CORES = availableParallelism();
const quiet = createLogger({ level: "silent" });
const fmt = (x: number, digits = 2) => x.toFixed(digits);
const held = (yes: boolean) => (yes ? "yes" : "**no**");
const tally = (statuses: number[]) => {
  const counts = new Map<number, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a - b).map(([s, c]) => `${c}×${s}`).join(" ");
};

/** The machine's bcrypt limit at `cost`: cores ÷ one comparison, measured now (median of 5). */
export async function bcryptLimit(cost: number): Promise<{ perSecond: number; compareMs: number }> {
  const digest = await bcrypt.hash("benchmark-password", cost);
  const ms: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await bcrypt.compare("benchmark-password", digest);
    ms.push(performance.now() - t0);
  }
  return { perSecond: (CORES * 1000) / median(ms), compareMs: median(ms) };
}

/** Sends every request at once; resolves with the statuses and the wall time. */
async function atOnce(board: DevPlugboard, count: number, fields: (i: number) => [string, unknown]) {
  const t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: count }, (_, i) => board.request(...fields(i))));
  return { statuses: answers.map((a) => a.status), seconds: (performance.now() - t0) / 1000, answers };
}

/** Calls Verify and Jwks one after the other until `stop` resolves; their latencies and failures. */
function cheapWhile(board: DevPlugboard, token: string) {
  let on = true;
  const ms: number[] = [];
  let failed = 0;
  const running = (async () => {
    for (let i = 0; on; i++) {
      const t0 = performance.now();
      const answer = await (i % 2 ? board.request("Jwks", {}) : board.request("Verify", { jwt: token }));
      ms.push(performance.now() - t0);
      if (answer.status !== 200) failed++;
      await sleep(5);
    }
  })();
  return async () => {
    on = false;
    await running;
    return { p50: percentile(ms, 50), p99: percentile(ms, 99), count: ms.length, failed };
  };
}

/** A consumer at `cost` on a board of its own, for one group of figures. */
async function withConsumer<T>(env: Record<string, string>, cost: number, work: (board: DevPlugboard) => Promise<T>): Promise<T> {
  const board = await DevPlugboard.start({ log: quiet, requestTimeoutMs: 30_000 });
  const consumer = spawnConsumer("node", { ...env, WEBSOCKET_URL: board.socketUrl, TOKEN: board.token, BCRYPT_COST: String(cost), LOGIN_MAX_FAILURES: "1000000" });
  try {
    await waitJoined(board);
    return await work(board);
  } finally {
    await stopChild(consumer);
    await board.stop();
  }
}

/**
 * The figures, appended to `rows`. `env(database)` is the consumer's environment apart from the
 * plugboard: each group of figures runs on a fresh database from `freshDatabase`.
 */
export async function burstFigures(rows: Row[], env: () => Promise<Record<string, string>>, scale: number): Promise<void> {
  const limit10 = await bcryptLimit(10);
  const limitText = (l: { perSecond: number; compareMs: number }) => `bcrypt limit ${fmt(l.perSecond, 1)} /s (${CORES} cores ÷ ${fmt(l.compareMs, 0)} ms)`;

  await withConsumer(await env(), 10, async (board) => {
    const registers = await atOnce(board, 60, (i) => ["Register", { name: "R", username: `burst${i}`, password: "benchmark-password" }]);
    const registerRate = 60 / registers.seconds;
    rows.push([
      "60 Registers of distinct users at once (cost 10)",
      `${fmt(registers.seconds, 1)} s, ${fmt(registerRate, 1)} /s`,
      limitText(limit10),
      `${fmt(registerRate / limit10.perSecond)}×`,
      "60 × 201",
      held(registers.statuses.every((s) => s === 201)),
      tally(registers.statuses),
    ]);
    const token = (registers.answers[0]!.body as { fields: { jwt: string } }).fields.jwt;
    // Three bursts of 40, one after the other: the median and the range.
    const rates: number[] = [];
    const loginStatuses: number[] = [];
    for (let round = 0; round < 3; round++) {
      const logins = await atOnce(board, 40, (i) => ["Login", { username: `burst${i}`, password: "benchmark-password" }]);
      rates.push(40 / logins.seconds);
      loginStatuses.push(...logins.statuses);
    }
    const ratios = rates.map((r) => r / limit10.perSecond);
    rows.push([
      "40 Logins of real users at once (cost 10), 3 bursts",
      `${fmt(median(rates), 1)} /s (${rates.map((r) => fmt(r, 1)).join(", ")})`,
      limitText(limit10),
      `${fmt(median(ratios))}× (${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))})`,
      "40 × 200, ≥ 0.8×",
      held(loginStatuses.every((s) => s === 200) && median(ratios) >= 0.8),
      tally(loginStatuses),
    ]);

    // 600 unknown-user logins at once, with cheap calls and a real user trying every 500 ms.
    const cheapDuringFlood = cheapWhile(board, token);
    const flood = atOnce(board, 600, (i) => ["Login", { username: `nobody${i}`, password: "flood-password" }]);
    const floodStarted = performance.now();
    let tries = 0;
    let inAfterMs = NaN;
    while (tries < 60) {
      tries++;
      const answer = await board.request("Login", { username: "burst0", password: "benchmark-password" });
      if (answer.status === 200) {
        inAfterMs = performance.now() - floodStarted;
        break;
      }
      await sleep(500);
    }
    const floodAnswers = await flood;
    const cheapFigures2 = await cheapDuringFlood();
    rows.push([
      "Verify/Jwks during 600 unknown-user logins at once",
      `p99 ${fmt(cheapFigures2.p99, 1)} ms`,
      `p50 ${fmt(cheapFigures2.p50, 1)} ms, ${cheapFigures2.failed}/${cheapFigures2.count} failed`,
      "",
      "p99 < 50 ms, none fail",
      held(cheapFigures2.p99 < 50 && cheapFigures2.failed === 0),
      "",
    ]);
    rows.push([
      "a real user retrying every 500 ms during those 600",
      `in after ${fmt(inAfterMs / 1000, 1)} s`,
      `${tries} tries`,
      "",
      "in within 30 s",
      held(inAfterMs < 30_000),
      tally(floodAnswers.statuses),
    ]);
  });

  await withConsumer(await env(), 10, async (board) => {
    const registered = await board.request("Register", { name: "W", username: "watcher", password: "benchmark-password" });
    const token = (registered.body as { fields: { jwt: string } }).fields.jwt;
    const flood = await loginFlood({
      call: async (action, fields) => (await board.request(action, fields)).status,
      capacityPerSecond: limit10.perSecond,
      token,
      overload: 4,
      seconds: Math.max(2, 8 * scale),
    });
    rows.push([
      `Verify/Jwks during a sustained flood (4× = ${fmt(flood.offeredPerSecond, 0)} logins/s, ${Math.max(2, 8 * scale)} s)`,
      `p99 ${fmt(flood.cheap.p99Ms, 1)} ms`,
      `p50 ${fmt(flood.cheap.p50Ms, 1)} ms, max ${fmt(flood.cheap.maxMs, 1)} ms, ${flood.cheap.failed}/${flood.cheap.count} failed`,
      "",
      "p99 < 50 ms, none fail",
      held(flood.cheap.p99Ms < 50 && flood.cheap.failed === 0),
      "",
    ]);
    rows.push([
      "logins during that flood",
      `${flood.logins.served} served, ${flood.logins.refused} × 503`,
      `503 p99 ${fmt(flood.logins.refusedP99Ms, 1)} ms; served p50 ${fmt(flood.logins.servedP50Ms, 0)} ms`,
      "",
      "503 at once",
      held(flood.logins.refusedP99Ms < 50),
      Object.entries(flood.logins.byStatus).map(([s, c]) => `${c}×${s}`).join(" "),
    ]);
  });

  const limit12 = await bcryptLimit(12);
  await withConsumer(await env(), 12, async (board) => {
    const registered = await board.request("Register", { name: "W", username: "watcher", password: "benchmark-password" });
    const token = (registered.body as { fields: { jwt: string } }).fields.jwt;
    const cheap = cheapWhile(board, token);
    const flood = await atOnce(board, 400, (i) => ["Login", { username: `nobody${i}`, password: "flood-password" }]);
    const figures = await cheap();
    rows.push([
      "Verify/Jwks during 400 unknown-user logins at once (cost 12)",
      `p99 ${fmt(figures.p99, 1)} ms`,
      `${limitText(limit12)}; ${figures.failed}/${figures.count} failed`,
      "",
      "p99 < 50 ms",
      held(figures.p99 < 50 && figures.failed === 0),
      tally(flood.statuses),
    ]);
  });

  // The threads' lower priority must cost an idle machine nothing: the same 40 comparisons at
  // once, with and without it, in alternating rounds.
  const perSecond: Record<"lower" | "normal", number[]> = { lower: [], normal: [] };
  for (let round = 0; round < 3; round++) {
    for (const priority of ["lower", "normal"] as const) {
      const passwords = await Passwords.start({ cost: 10, threads: CORES, lowerPriority: priority === "lower" });
      try {
        const digest = await passwords.hash("benchmark-password");
        const t0 = performance.now();
        await Promise.all(Array.from({ length: 40 }, () => passwords.verify("benchmark-password", digest)));
        perSecond[priority].push(40_000 / (performance.now() - t0));
      } finally {
        await passwords.close();
      }
    }
  }
  const ratios = perSecond.lower.map((x, i) => x / perSecond.normal[i]!);
  rows.push([
    "bcrypt on an idle machine, threads at nice +10 vs nice 0",
    `${fmt(median(perSecond.lower), 1)} /s`,
    `nice 0: ${fmt(median(perSecond.normal), 1)} /s`,
    `${fmt(median(ratios))}× (${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))})`,
    "≥ 0.95×",
    held(median(ratios) >= 0.95),
    "",
  ]);
}
