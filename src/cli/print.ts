/** What a subcommand prints when its command line is not one to run: the usage for --help, or the refusal. */
import type { ParsedCommandLine } from "./arguments.ts";

export function printParseResult(parsed: Extract<ParsedCommandLine<any>, { ok: false }>, usage: string): number {
  if (parsed.exitCode === 0) process.stdout.write(`${usage}\n`);
  else process.stderr.write(`${parsed.problem}\n${usage}\n`);
  return parsed.exitCode;
}
