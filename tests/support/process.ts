/**
 * Runs the service the way operators do: `npm start`'s command, plain node on the compiled entry
 * (node --max-semi-space-size=4 dist/src/cli/main.js start --dir dist/app; tests/run.ts builds it first), configured only
 * through the environment, with its JSON log lines collected for the test. Actions of
 * tests/fixtures/ are given to it compiled: ACTIONS_DIR: compiledFixtures("actions").
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createTestDatabase } from "./database.ts";
import { serviceArgs, startCommand } from "./build.ts";

export { compiledFixtures } from "./build.ts";

/** DATABASE_URL of a fresh database on the tests' server for a service process (rather than the embedded default). */
export async function serviceDatabaseEnv(): Promise<Record<string, string>> {
  return { DATABASE_URL: (await createTestDatabase({ migrate: false })).url };
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Every stdout line parsed as JSON (non-JSON lines are kept as {raw}). */
  lines: () => Array<Record<string, unknown>>;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLine(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
}

export function startService(env: Record<string, string | undefined>, options: { nodeArgs?: string[] } = {}): ServiceProcess {
  const child = spawn(process.execPath, serviceArgs(options.nodeArgs), {
    env: { PATH: process.env.PATH, NODE_ENV: "test", LOG_LEVEL: "debug", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child, (signal) => child.kill(signal));
}

/** npm start's command in another folder holding the package (its dist/, node_modules and package.json), run from there. */
export function startServiceIn(cwd: string, env: Record<string, string | undefined>): ServiceProcess {
  const { flags } = startCommand();
  const child = spawn(process.execPath, [...flags, path.join(cwd, "dist", "src", "cli", "main.js"), "start", "--dir", path.join(cwd, "dist", "app")], {
    cwd,
    env: { PATH: process.env.PATH, LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child, (signal) => child.kill(signal));
}

/** Any command, in a process group of its own (so that `kill` reaches what npm starts), its output collected. */
export function startProcess(command: string, args: readonly string[], options: { cwd: string; env: Record<string, string | undefined> }): ServiceProcess {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  return collect(child, (signal) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  });
}

/**
 * `npm run dev` (the TypeScript sources under tsx, dev mode) in a process group of its own, so
 * that `kill` reaches npm and the service together. Logs as JSON.
 */
export function startNpmDev(env: Record<string, string | undefined>): ServiceProcess {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const child = spawn(npm, ["run", "dev"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PLUGBOARD_PORT: "0", LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  return collect(child, (signal) => process.kill(-child.pid!, signal));
}

function collect(child: ChildProcess, kill: (signal: NodeJS.Signals) => void): ServiceProcess {
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  // Every writer of its output is gone (the process, and any child it left holding the pipes).
  let outputEnded = false;
  child.on("close", () => (outputEnded = true));
  const lines = () =>
    out
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return { raw: l };
        }
      });
  return {
    child,
    lines,
    output: () => out,
    exited,
    async waitForLine(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // Read whether the output has ended before looking: a line written just before the end is still found.
        const ended = outputEnded;
        const found = lines().find(predicate);
        if (found) return found;
        if (ended) throw new Error(`no such log line: the process ended its output first; output:\n${out.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`no such log line within ${timeoutMs} ms; output:\n${out.slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    kill(signal = "SIGTERM") {
      kill(signal);
    },
  };
}

/** A command of the package run to its end by node (`cliArgs(…)`), in test mode at the lowest bcrypt cost: its exit code and output. */
export function runNode(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, NODE_ENV: "test", BCRYPT_COST: "4", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}
