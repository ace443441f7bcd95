/**
 * What every command (service, dev plugboard, migrate) does first: read the configuration,
 * or stop before doing anything, one log line per problem and exit code 2.
 */
import { ConfigError, loadConfig, type Config } from "../config.ts";
import { createLogger, flushLogs } from "./logger.ts";

export const CONFIG_EXIT_CODE = 2;

export function loadConfigOrExit(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const log = createLogger();
    for (const problem of error.problems) log.fatal({ problem }, `configuration: ${problem}`);
    flushLogs();
    process.exit(CONFIG_EXIT_CODE);
  }
}
