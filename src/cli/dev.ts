/**
 * `vera-service dev`: the app from its sources, in dev mode — a dev plugboard of its own, the
 * embedded PostgreSQL under DATA_DIR (unless DATABASE_URL says otherwise), and the actions
 * reloaded and published again when a file of actions/ changes. One process: one Ctrl-C is one
 * graceful stop.
 */
import { parseCommandLine } from "./arguments.ts";
import { DIR_OPTION, openApp } from "./app-folder.ts";
import { EXIT_CODE } from "../ops/exit-codes.ts";
import { printParseResult } from "./print.ts";

export const USAGE = `usage: vera-service dev [--dir <folder>]
  Runs the app from its sources (TypeScript through the app's tsx) beside a dev plugboard of its
  own, on the embedded database unless DATABASE_URL is set; reloads the actions when a file of
  actions/ changes (ACTIONS_WATCH=0 turns that off). Prints how to call it.
  --dir <folder>   the app's root, holding actions/, subscribers/, migrations/ (default: .)
  -h, --help       this text`;

export async function dev(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { usage: USAGE, options: DIR_OPTION });
  if (!parsed.ok) return printParseResult(parsed, USAGE);
  if ((await openApp("dev", parsed.values.dir, ".")) === undefined) return EXIT_CODE.usage;
  process.env.ACTIONS_WATCH ??= "1";
  return (await import("./serve.ts")).serve();
}
