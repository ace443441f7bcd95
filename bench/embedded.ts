/**
 * `npm start` with nothing configured, timed from outside: `npm start`'s command (plain node on
 * dist/, built first when stale) on a fresh DATA_DIR (and a fresh TMPDIR, so no compile cache helps) until
 * its first answer through the dev plugboard, then the same DATA_DIR started again; the node
 * process's RSS at that first answer and after 200 Register/Login calls. Each round stops the service with SIGTERM, which
 * stops the embedded PostgreSQL. Prints the median of RUNS rounds (default 5).
 *
 *   node --import tsx bench/embedded.ts [RUNS]
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const runs = Number(process.argv[2] ?? 5);
/** `npm start`'s command after its prestart build: node's flags and the compiled entry, from package.json. */
const START_COMMAND = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { start: string } }).scripts.start.split(/\s+/).slice(1);
execFileSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { stdio: "inherit" });

interface Started {
  /** Spawn to the first successful POST / answer, ms. */
  firstAnswerMs: number;
  /** What the service logged for the embedded database (how, ms). */
  embedded: { how: string; ms: number };
  stop(): Promise<void>;
  rssMb(): number;
  url: string;
}

async function start(dataDir: string, tmp: string): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(process.execPath, START_COMMAND, {
    env: { PATH: process.env.PATH, TMPDIR: tmp, DATA_DIR: dataDir, PLUGBOARD_PORT: "0", BCRYPT_COST: "4", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  let url: string | undefined;
  for (;;) {
    const line = out.split("\n").find((l) => l.includes('"explorer"'));
    if (line) {
      url = String((JSON.parse(line) as { explorer: string }).explorer);
      break;
    }
    if (child.exitCode !== null) throw new Error(`the service exited:\n${out}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  for (;;) {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "Login", fields: { username: "nobody", password: "whatever!" } }) });
    await response.text();
    if (response.status < 500) break; // 401 is an answer: the consumer joined and the database answered
    await new Promise((r) => setTimeout(r, 5));
  }
  const firstAnswerMs = performance.now() - t0;
  const line = out.split("\n").find((l) => l.includes("embedded PostgreSQL") && l.includes('"how"'))!;
  const { how, ms } = JSON.parse(line) as { how: string; ms: number };
  return {
    firstAnswerMs,
    embedded: { how, ms },
    url,
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function traffic(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const fields = i % 2 === 0 ? { name: "U", username: `user${i}`, password: "correct horse" } : { username: `user${i - 1}`, password: "correct horse" };
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: i % 2 === 0 ? "Register" : "Login", fields }) });
    await response.text();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const first: number[] = [];
const firstDb: number[] = [];
const later: number[] = [];
const laterDb: number[] = [];
const rss: number[] = [];
const idle: number[] = [];
for (let i = 0; i < runs; i++) {
  const base = mkdtempSync(path.join(tmpdir(), "vera-bench-embedded-"));
  chmodSync(base, 0o755); // as root, PostgreSQL runs as another user, who must reach DATA_DIR
  const dataDir = path.join(base, "data");
  const tmp = mkdtempSync(path.join(base, "tmp-"));
  const a = await start(dataDir, tmp);
  first.push(a.firstAnswerMs);
  firstDb.push(a.embedded.ms);
  await a.stop();
  const b = await start(dataDir, tmp);
  later.push(b.firstAnswerMs);
  laterDb.push(b.embedded.ms);
  idle.push(b.rssMb());
  await traffic(b.url, 200);
  rss.push(b.rssMb());
  await b.stop();
  rmSync(base, { recursive: true, force: true });
  console.log(`round ${i + 1}: first start ${a.firstAnswerMs.toFixed(0)} ms (${a.embedded.how} in ${a.embedded.ms} ms), later start ${b.firstAnswerMs.toFixed(0)} ms (${b.embedded.how} in ${b.embedded.ms} ms), RSS ${idle.at(-1)!.toFixed(1)} MB at the first answer, ${rss.at(-1)!.toFixed(1)} MB after 200 calls`);
}
console.log(`median of ${runs}: first start to first answer ${median(first).toFixed(0)} ms (database ${median(firstDb)} ms); later start ${median(later).toFixed(0)} ms (database ${median(laterDb)} ms); node RSS ${median(idle).toFixed(1)} MB at the first answer, ${median(rss).toFixed(1)} MB after 200 calls`);
