/**
 * The command-line tools' arguments, read strictly (node:util parseArgs): an option or argument
 * a tool does not know is refused with its usage and exit 2, before the tool does anything, so
 * a typo never turns a dry run (`migrate --check`) into a write. `--help` and `-h` print the
 * usage and exit 0.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { EXIT_CODE } from "../ops/exit-codes.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface CommandLineSpec<O extends Options> {
  /** Printed for --help (stdout, exit 0) and after a refusal (stderr, exit 2). */
  usage: string;
  options: O;
  /** How many plain arguments the tool takes (default none). */
  positionals?: { min?: number; max?: number };
}

export type CommandLine<O extends Options> = {
  values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>["values"];
  positionals: string[];
};

/** The arguments; or --help (exit 0, no problem); or what is wrong with them (exit 2). */
export type ParsedCommandLine<O extends Options> =
  | ({ ok: true } & CommandLine<O>)
  | { ok: false; exitCode: 0; problem?: undefined }
  | { ok: false; exitCode: 2; problem: string };

const HELP = { help: { type: "boolean", short: "h" } } as const;

/** The arguments as the tool's options and plain arguments; or the help, or the refusal, to print. */
export function parseCommandLine<O extends Options>(args: readonly string[], spec: CommandLineSpec<O>): ParsedCommandLine<O> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...spec.options, ...HELP }, allowPositionals: true, strict: true });
  } catch (error) {
    return { ok: false, exitCode: EXIT_CODE.usage, problem: plain((error as Error).message) };
  }
  const { help, ...values } = parsed.values as Record<string, unknown>;
  if (help) return { ok: false, exitCode: 0 };
  const { min = 0, max = 0 } = spec.positionals ?? {};
  const count = parsed.positionals.length;
  if (count > max) return { ok: false, exitCode: EXIT_CODE.usage, problem: `unexpected argument: ${JSON.stringify(parsed.positionals[max])}` };
  if (count < min) return { ok: false, exitCode: EXIT_CODE.usage, problem: "missing argument" };
  return { ok: true, values: values as CommandLine<O>["values"], positionals: parsed.positionals };
}

/** node's messages end with advice about `--` that fits its own CLI, not a tool's. */
function plain(message: string): string {
  return message.replace(/\. To specify a positional argument starting with a '-'.*$/s, "").replace(/^Unknown option/, "unknown option");
}
