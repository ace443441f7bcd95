/**
 * The benchmark's processes: the consumer as `npm start` runs it (plain node on dist/, or the
 * sources under tsx), helper scripts, and what is read from them (CPU time, probes over IPC).
 * Shared by bench/run.ts (`npm run bench`) and bench/profile.ts (`npm run bench:profile`).
 */
import { fork, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { DevPlugboard } from "../src/devboard/server.ts";
import type { LoadResult } from "./load.ts";
import { ROOT, startCommand } from "../tests/support/build.ts";

/** `npm start`'s command, "node <flags> dist/src/cli/main.js start --dir dist/app": the consumer runs as it does in production. */
const START = startCommand();

/** Production: the compiled entry, plain node. tsx: the sources through the TypeScript loader, as before the build. */
export type Runtime = "node" | "tsx";

export interface Probe {
  loopMaxMs: number;
  loopP99Ms: number;
  rssBytes: number;
  rssAfterGcBytes: number;
  heapTotalBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
}

/** Makes dist/ current (npm start's own pre-step), so the consumer runs what the sources say. */
export function buildIfStale(): void {
  const built = spawnSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { stdio: "inherit" });
  if (built.status !== 0) throw new Error("the build failed");
}

/** A helper script of the benchmark, from its TypeScript source. */
export function spawnHelper(script: string, env: Record<string, string>): ChildProcess {
  return fork(script, [], {
    execArgv: ["--import", "tsx"],
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
}

/**
 * What the Docker image sets (Dockerfile): production mode, and health and metrics served, here on
 * a free port, so the metrics' cost per request is in every figure. LOG_LEVEL warn keeps the
 * benchmark's own output readable (the image logs info lines: start-up, not per request).
 */
const PRODUCTION_ENV = { NODE_ENV: "production", HEALTH_PORT: "0", LOG_LEVEL: "warn" };

/**
 * The consumer, either way, with the same flags, preloads and environment (PRODUCTION_ENV under
 * `env`). The preloads (bench/loop-probe.mjs, and bench/profile-probe.mjs when asked) answer over
 * the IPC channel.
 */
export function spawnConsumer(runtime: Runtime, env: Record<string, string>, options: { profile?: boolean; execPath?: string } = {}): ChildProcess {
  const probeFlags = ["--expose-gc", "--import", "./bench/loop-probe.mjs", ...(options.profile ? ["--import", "./bench/profile-probe.mjs"] : [])];
  // Under tsx: the same command on the sources, the app's TypeScript folder.
  const [entry, args] = runtime === "node" ? [START.entry, START.args] : [path.join(ROOT, "src/cli/main.ts"), ["start", "--dir", path.join(ROOT, "app")]];
  return fork(entry, args, {
    ...(options.execPath ? { execPath: options.execPath } : {}),
    execArgv: [...START.flags, ...(runtime === "tsx" ? ["--import", "tsx"] : []), ...probeFlags],
    env: { PATH: process.env.PATH, ...PRODUCTION_ENV, ...env },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
}

/** Sends a message to a preload and resolves with the first reply that passes `accept`. */
export function ask<T>(child: ChildProcess, message: unknown, accept: (reply: unknown) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (reply: unknown) => {
      if (!accept(reply)) return;
      child.off("message", listener);
      resolve(reply as T);
    };
    child.on("message", listener);
    child.send(message as never);
  });
}

/** Event-loop delay since the last probe, and memory (bench/loop-probe.mjs). */
export function probe(child: ChildProcess): Promise<Probe> {
  return ask<Probe>(child, "probe", (reply) => typeof reply === "object" && reply !== null && "rssBytes" in reply);
}

export async function waitJoined(board: DevPlugboard): Promise<void> {
  await board.waitFor(() => board.consumers().some((c) => c.joined), 60_000);
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(10_000).then(() => child.kill("SIGKILL"))]);
}

/** CPU time (user + system, all threads) a process has used so far, in ms, from /proc. */
export function cpuMs(child: ChildProcess): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

export type Measured = LoadResult & { cpuUsPerRequest: number };

/** Runs a load and measures the CPU the answering process spent per request. */
export async function measured(child: ChildProcess, load: () => Promise<LoadResult>): Promise<Measured> {
  const before = cpuMs(child);
  const result = await load();
  return { ...result, cpuUsPerRequest: ((cpuMs(child) - before) * 1000) / result.count };
}
