/**
 * Commands a module of the app brings (a provider's `commands`, src/providers.ts): the account
 * module's `roles`. `vera-service <name>` loads the app (the compiled one when there is one,
 * else its sources) to find which modules it uses, and runs the command of that name.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { APP_FOLDERS } from "../config.ts";
import { loadConfigOrExit } from "../ops/startup.ts";
import { createLogger } from "../ops/logger.ts";
import { EXIT_CODE } from "../ops/exit-codes.ts";
import { AppFolderError, appProviders, builtOrSources, loadTypeScriptFor, useAppDir } from "./app-folder.ts";

/** `--dir <folder>` before the command's own arguments, the only option every module command shares. */
function leadingDir(args: string[]): { dir: string | undefined; rest: string[] } {
  if (args[0] === "--dir" && args[1] !== undefined) return { dir: args[1], rest: args.slice(2) };
  if (args[0]?.startsWith("--dir=")) return { dir: args[0].slice("--dir=".length), rest: args.slice(1) };
  return { dir: undefined, rest: args };
}

export async function runModuleCommand(name: string, args: string[], usage: string): Promise<number> {
  const { dir: given, rest } = leadingDir(args);
  try {
    const dir = useAppDir(given, builtOrSources());
    // Not in an app at all (a typo of a subcommand, most likely): nothing to load.
    if (!Object.values(APP_FOLDERS).some((folder) => existsSync(path.join(dir, folder)))) {
      process.stderr.write(`unknown command ${JSON.stringify(name)}\n${usage}\n`);
      return EXIT_CODE.usage;
    }
    await loadTypeScriptFor(dir);
  } catch (error) {
    if (!(error instanceof AppFolderError)) throw error;
    process.stderr.write(`vera-service ${name}: ${error.message}\n`);
    return EXIT_CODE.usage;
  }
  const config = loadConfigOrExit(undefined, process.stderr);
  const log = createLogger({ level: "warn", format: config.logFormat, destination: process.stderr, service: config.serviceName });
  const providers = await appProviders(config, log);
  const command = providers.map((p) => p.commands?.[name]).find((c) => c !== undefined);
  if (!command) {
    const offered = providers.flatMap((p) => Object.keys(p.commands ?? {}));
    process.stderr.write(
      `unknown command ${JSON.stringify(name)}${offered.length > 0 ? ` (this app's modules bring: ${offered.join(", ")})` : ""}\n${usage}\n`,
    );
    return EXIT_CODE.usage;
  }
  return command.run(rest);
}
