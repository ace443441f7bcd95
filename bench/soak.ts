/**
 * `npm run soak`: a bounded run of mixed traffic through the dev plugboard against the consumer
 * as its own process, with periodic socket drops, channel crashes and a PostgreSQL restart.
 * Prints requests sent, answered, lost and duplicated; exits non-zero if any was lost.
 *
 *   SOAK_SECONDS=60 npm run soak     # default 300
 *
 * "Lost" means pushed to a consumer and never answered (the plugboard's 30 s timeout, 408).
 * A request the plugboard could not route because no consumer was joined at that instant
 * (422) was never taken by the consumer: it is counted as refused, and retried by callers.
 * "Duplicated" counts answers that reached the plugboard twice for one ref (sent again after a
 * drop; the plugboard ignores the repeat); no action runs twice, which the Register check shows.
 */
import { fork, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { DevPlugboard } from "../src/devboard/server.ts";
import { createLogger } from "../src/ops/logger.ts";
import { startCluster } from "../tests/support/database.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? "300");
const CONCURRENCY = 8;
const quiet = createLogger({ level: "silent" });

interface Tally {
  sent: number;
  answered: number;
  lost: number;
  refused: number;
  byStatus: Map<number, number>;
  duplicated: number;
  registered: Set<string>;
}

async function main(): Promise<void> {
  const cluster = await startCluster();
  const board = await DevPlugboard.start({ log: quiet, requestTimeoutMs: 30_000 });
  const tally: Tally = { sent: 0, answered: 0, lost: 0, refused: 0, byStatus: new Map(), duplicated: 0, registered: new Set() };

  // Count answers per ref as they arrive: a second one is a duplicate.
  const seen = new Set<string>();
  board.on("frame", (frame: { direction: string; text: string }) => {
    if (frame.direction !== "in" || !frame.text.includes('"response"')) return;
    const ref = (JSON.parse(frame.text) as unknown[])[1] as string;
    if (seen.has(ref)) tally.duplicated++;
    else seen.add(ref);
  });

  // `npm start`'s command: the compiled entry under plain node, built first when stale.
  if (spawnSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { stdio: "inherit" }).status !== 0) throw new Error("the build failed");
  const start = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  const consumer = fork(start.at(-1)!, [], {
    execArgv: start.slice(1, -1),
    env: {
      PATH: process.env.PATH,
      WEBSOCKET_URL: board.socketUrl,
      TOKEN: board.token,
      JWT_SECRET: "soak-secret-soak-secret-soak-secret-soak",
      DATABASE_URL: cluster.url,
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "vera-soak-")),
      BCRYPT_COST: "4",
      NODE_ENV: "test",
      HEARTBEAT_INTERVAL_MS: "5000",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  await board.waitFor(() => board.consumers().some((c) => c.joined), 60_000);
  console.log(`soak: ${SECONDS} s of mixed traffic, ${CONCURRENCY} in flight, faults every few seconds`);

  const deadline = Date.now() + SECONDS * 1000;
  let tokens: string[] = [];
  let counter = 0;
  async function one(): Promise<void> {
    const i = ++counter;
    const kind = i % 4;
    const username = `soak_${i}`;
    const [action, fields] =
      kind === 0
        ? ["Register", { name: "Soak", username, password: "password123" }]
        : kind === 1
          ? ["Login", { username: `soak_${i - 1}`, password: "password123" }]
          : kind === 2 && tokens.length > 0
            ? ["Logout", { jwt: tokens.pop()! }]
            : ["Logout", { jwt: "not-a-token" }];
    tally.sent++;
    const answer = await board.request(action, fields);
    const status = answer.status;
    tally.byStatus.set(status, (tally.byStatus.get(status) ?? 0) + 1);
    if (status === 408) tally.lost++;
    else if (status === 422) tally.refused++;
    else tally.answered++;
    const body = answer.body as { fields?: { jwt?: string } };
    if (status === 201) tally.registered.add(username);
    if ((status === 200 || status === 201) && body.fields?.jwt && tokens.length < 1000) tokens.push(body.fields.jwt);
  }
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < deadline) {
      await one();
      // 422 means no consumer at that instant: wait a moment, as a caller would.
      if (tally.refused > 0 && tally.byStatus.get(422)) await sleep(2);
    }
  });

  const faults = (async () => {
    let tick = 0;
    const restartAt = Math.floor(SECONDS / 2);
    while (Date.now() < deadline - 5_000) {
      await sleep(1_000);
      tick++;
      if (tick % 20 === 0) {
        await board.faults.dropSockets();
        console.log(`  ${tick}s: dropped every socket`);
      } else if (tick % 20 === 10) {
        board.faults.crashChannel();
        console.log(`  ${tick}s: crashed the channel`);
      }
      if (tick === restartAt) {
        await cluster.stop();
        console.log(`  ${tick}s: PostgreSQL stopped`);
        await sleep(3_000);
        await cluster.start();
        console.log(`  ${tick + 3}s: PostgreSQL started again`);
      }
    }
  })();

  await Promise.all([...workers, faults]);
  const exited = new Promise((resolve) => consumer.once("exit", resolve));
  consumer.kill("SIGTERM");
  await exited;

  // No Register ran twice: each 201 is exactly one account, and no account exists twice.
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  const { rows } = await client.query<{ n: string }>("select count(*) as n from users where username like 'soak_%'");
  await client.end();
  await board.stop();
  await cluster.remove();

  const statuses = [...tally.byStatus].sort(([a], [b]) => a - b).map(([s, c]) => `${s}×${c}`).join(" ");
  console.log(
    [
      `sent       ${tally.sent}`,
      `answered   ${tally.answered}   (${statuses})`,
      `refused    ${tally.refused}   (422: no consumer joined at that instant; never taken by the consumer)`,
      `lost       ${tally.lost}`,
      `duplicated ${tally.duplicated}   (answers repeated after a drop, ignored by the plugboard)`,
      `accounts   ${rows[0]!.n} in the database for ${tally.registered.size} answered 201s`,
    ].join("\n"),
  );
  exitWith(consumer, tally.lost > 0 ? 1 : 0);
}

function exitWith(_child: ChildProcess, code: number): never {
  process.exit(code);
}

await main();
