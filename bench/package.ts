/**
 * `npm run bench -- package`: what a developer waits for to start a service on the framework,
 * each figure beside its baseline, measured in the same run, in alternating rounds:
 *
 * - `npm pack` at the root of a clean copy of the checkout (what a fresh clone holds; its
 *   `prepack` builds dist/) beside the build alone (`node scripts/build.mjs`);
 * - `npx --package <tarball> vera-service init`, `npm install`, then `npm run dev` until its first
 *   answer to Greet, beside a bare `npm install` of what the scaffold takes from the registry
 *   besides the framework (zod, tsx, typescript, @types/node) in an empty folder.
 *
 * Every round starts from an empty npm cache of its own, as on a machine that never installed
 * these, so the registry's speed is in both columns. Targets (issue 28): pack under 30 s; init +
 * install + first answer under 60 s.
 */
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { median } from "./load.ts";
import { ROOT } from "../tests/support/build.ts";
import { cleanCopy, commandEnv } from "../tests/support/clean-copy.ts";

type Row = string[];

const exec = promisify(execFile);
const ROUNDS = 3;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const range = (values: number[]) => `${seconds(Math.min(...values))}–${seconds(Math.max(...values))}`;

/** A command's environment (tests/support/clean-copy.ts), with an npm cache of the round's own. */
const npmEnv = (cache: string): NodeJS.ProcessEnv => commandEnv({ npm_config_cache: cache, npm_config_audit: "false", npm_config_fund: "false" });

async function timed(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const { stdout } = await exec(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
  return { ms: performance.now() - started, stdout };
}

/** `npm run dev` in `app` until Greet answers through its dev plugboard; returns the time from spawn. */
async function firstAnswer(app: string, env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const child = spawn("npm", ["run", "dev"], { cwd: app, env: { ...env, PLUGBOARD_PORT: "0" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const closed = new Promise((resolve) => child.once("close", resolve));
  child.stderr.resume();
  try {
    const explorer = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`npm run dev did not join within 60 s:\n${out.slice(-2000)}`)), 60_000);
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        const found = /"explorer":"([^"]+)"/.exec(out);
        if (found && out.includes('"msg":"joined the plugboard"')) {
          clearTimeout(timer);
          resolve(found[1]!);
        }
      });
      child.on("exit", (code) => reject(new Error(`npm run dev exited (${code}):\n${out.slice(-2000)}`)));
    });
    const response = await fetch(explorer, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "Greet", fields: { name: "bench" } }) });
    if (response.status !== 200) throw new Error(`Greet answered ${response.status}`);
    return performance.now() - started;
  } finally {
    // The round's folder is removed next: the service and its npm leave it first.
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // gone already
    }
    await closed;
  }
}

export async function packageFigures(rows: Row[]): Promise<void> {
  const figures = { pack: [] as number[], build: [] as number[], init: [] as number[], install: [] as number[], dev: [] as number[], total: [] as number[], bare: [] as number[] };
  let files = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const here = mkdtempSync(path.join(tmpdir(), "vera-bench-package-"));
    try {
      const env = npmEnv(path.join(here, "npm-cache"));
      // Baseline first in odd rounds, second in even ones: neither always meets a warmer machine.
      const bare = async () => {
        const folder = path.join(here, "bare");
        mkdirSync(folder);
        writeFileSync(path.join(folder, "package.json"), '{"name":"bare","version":"0.0.0","private":true,"type":"module"}\n');
        figures.bare.push((await timed("npm", ["install", "zod@^4.1.0", "tsx@^4.20.0", "typescript@^5.9.3", "@types/node@^20.19.0"], folder, npmEnv(path.join(here, "bare-cache")))).ms);
      };
      if (round % 2 === 1) await bare();

      const copy = path.join(here, "checkout");
      cleanCopy(ROOT, copy, { borrowNodeModules: true });
      figures.build.push((await timed("node", ["scripts/build.mjs"], copy, env)).ms);
      rmSync(path.join(copy, "dist"), { recursive: true, force: true });
      const packed = await timed("npm", ["pack", "--json", "--pack-destination", here], copy, env);
      figures.pack.push(packed.ms);
      const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<{ filename: string; files: unknown[] }>;
      files = info!.files.length;
      const tarball = path.join(here, path.basename(info!.filename));

      const init = await timed("npx", ["--yes", "--package", tarball, "vera-service", "init", "my-service"], here, env);
      const app = path.join(here, "my-service");
      const install = await timed("npm", ["install"], app, env);
      const dev = await firstAnswer(app, env);
      figures.init.push(init.ms);
      figures.install.push(install.ms);
      figures.dev.push(dev);
      figures.total.push(init.ms + install.ms + dev);
      if (round % 2 === 0) await bare();
    } finally {
      rmSync(here, { recursive: true, force: true });
    }
  }
  const ratio = (ours: number[], base: number[]) => `${(median(ours) / median(base)).toFixed(2)}×`;
  rows.push([`npm pack, build included (${files} files), median of ${ROUNDS}`, seconds(median(figures.pack)), `build alone ${seconds(median(figures.build))}`, ratio(figures.pack, figures.build), "< 30 s", median(figures.pack) < 30_000 ? "yes" : "**no**", `range ${range(figures.pack)}`]);
  rows.push([
    `init + install + first answer in dev, empty npm cache, median of ${ROUNDS}`,
    seconds(median(figures.total)),
    `bare npm install of zod, tsx, typescript, @types/node ${seconds(median(figures.bare))}`,
    ratio(figures.total, figures.bare),
    "< 60 s",
    median(figures.total) < 60_000 ? "yes" : "**no**",
    `range ${range(figures.total)}; init ${seconds(median(figures.init))}, install ${seconds(median(figures.install))}, npm run dev to Greet's answer ${seconds(median(figures.dev))}`,
  ]);
}
