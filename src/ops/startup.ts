/**
 * What every command (service, dev plugboard, migrate) does first: read the configuration,
 * or stop before doing anything, one log line per problem and exit code 2.
 */
import { EXIT_CODE } from "./exit-codes.ts";
import { ConfigError, LOG_FORMATS, loadConfig, type Config, type LogFormat } from "../config.ts";
import { createLogger, flushLogs } from "./logger.ts";


/**
 * `check`: rules of one command on top of loadConfig's (the service's: serviceProblems).
 * `destination`: where the problems go (an operator command's are on stderr: its stdout is its output).
 */
export function loadConfigOrExit(check: (config: Readonly<Config>) => string[] = () => [], destination?: NodeJS.WritableStream): Readonly<Config> {
  let problems: string[];
  try {
    const config = loadConfig();
    problems = check(config);
    if (problems.length === 0) return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = error.problems;
  }
  // The configuration did not load: honour LOG_FORMAT if it is one of the formats at least.
  const format = LOG_FORMATS.find((f) => f === process.env.LOG_FORMAT?.trim()) as LogFormat | undefined;
  const log = createLogger({ format, ...(destination ? { destination } : {}) });
  for (const problem of problems) log.fatal({ problem }, `configuration: ${problem}`);
  flushLogs();
  process.exit(EXIT_CODE.config);
}
