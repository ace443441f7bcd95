/**
 * `vera-service start`: the compiled app (`vera-service build`'s dist/) on plain node, as
 * production runs it. Configured by the environment alone (README "Configuration").
 */
import path from "node:path";
import { parseCommandLine } from "./arguments.ts";
import { DIR_OPTION, openApp } from "./app-folder.ts";
import { APP_FOLDERS } from "../config.ts";
import { EXIT_CODE } from "../ops/exit-codes.ts";
import { existsSync } from "node:fs";
import { printParseResult } from "./print.ts";

export const USAGE = `usage: vera-service start [--dir <folder>]
  Runs the compiled app on plain node: behind the plugboard of WEBSOCKET_URL and TOKEN, or with
  neither set, beside a dev plugboard of its own. Stops gracefully on SIGTERM (it drains).
  --dir <folder>   the compiled app (default: dist, what \`vera-service build\` writes)
  -h, --help       this text`;

export async function start(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { usage: USAGE, options: DIR_OPTION });
  if (!parsed.ok) return printParseResult(parsed, USAGE);
  // Production runs compiled JavaScript: no TypeScript loader.
  const dir = await openApp("start", parsed.values.dir, "dist", { typescript: false, hint: "compile the app first: vera-service build" });
  if (dir === undefined) return EXIT_CODE.usage;
  if (!existsSync(path.join(dir, APP_FOLDERS.actions))) {
    process.stderr.write(`vera-service start: ${path.relative(process.cwd(), dir) || "."} has no ${APP_FOLDERS.actions}/ (compile the app first: vera-service build)\n`);
    return EXIT_CODE.usage;
  }
  return (await import("./serve.ts")).serve();
}
