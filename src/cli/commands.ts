/**
 * The subcommands of `vera-service` (src/cli/main.ts), and the command line's first word. Each
 * subcommand reads the rest of the command line strictly (src/cli/arguments.ts): `--help` prints
 * its usage, an unknown option is exit 2 with the usage, before anything is done.
 *
 * A module of the app may bring commands of its own (the account module's `roles`): a provider's
 * `commands` (src/providers.ts). `vera-service <name>` runs the one of that name among the
 * providers the app's actions use.
 */
import { packageInfo } from "./package-root.ts";
import { EXIT_CODE } from "../ops/exit-codes.ts";

export interface Subcommand {
  summary: string;
  /** Runs with the arguments after the subcommand's name; resolves with the exit code. */
  run(args: string[]): Promise<number>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  init: { summary: "write a new app in <dir>, ready for npm install && npm run dev", run: async (args) => (await import("./init.ts")).init(args) },
  dev: { summary: "run the app from its sources: dev plugboard, embedded database, reload on change", run: async (args) => (await import("./dev.ts")).dev(args) },
  build: { summary: "compile the app to dist/ (type errors fail the build)", run: async (args) => (await import("./build.ts")).build(args) },
  start: { summary: "run the compiled app on plain node (production)", run: async (args) => (await import("./start.ts")).start(args) },
  migrate: { summary: "apply the pending migrations (framework, modules, app), or --check them", run: async (args) => (await import("./migrate.ts")).migrate(args) },
  client: { summary: "write a typed client of a service's actions", run: async (args) => (await import("../calls/client-cli.ts")).client(args) },
  plugboard: { summary: "run the dev plugboard alone", run: async (args) => (await import("../devboard/cli.ts")).plugboard(args) },
};

/** Commands the app's modules bring (the account module's `roles`), listed in the usage though found only in the app. */
const MODULE_COMMANDS_NOTE = "  <other>     a command of a module the app uses (the account module: roles)";

export const USAGE = `usage: vera-service <command> [options]   (vera-service <command> --help for one)
${Object.entries(SUBCOMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)}  ${c.summary}`)
  .join("\n")}
${MODULE_COMMANDS_NOTE}
  -v, --version  the package's version
  -h, --help     this text`;

export async function runCommandLine(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return EXIT_CODE.usage;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_CODE.ok;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`${packageInfo().version}\n`);
    return EXIT_CODE.ok;
  }
  const subcommand = SUBCOMMANDS[name];
  if (subcommand) return subcommand.run(rest);
  if (name.startsWith("-")) {
    process.stderr.write(`unknown option ${JSON.stringify(name)}: the command comes first\n${USAGE}\n`);
    return EXIT_CODE.usage;
  }
  return (await import("./module-commands.ts")).runModuleCommand(name, rest, USAGE);
}
