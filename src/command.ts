/**
 * An app's operator command — what no action may do, such as making the first administrator
 * (`vera-service roles grant alice admin`), brought by a provider's `commands` (src/providers.ts). It reads the service's configuration (the
 * environment; with no database configured, the embedded one under DATA_DIR that `npm start`
 * uses), starts the providers it needs as the service would (migrations included), runs, closes
 * them, and exits with the code `run` returns. Logs go to stderr, at warn unless LOG_LEVEL says
 * otherwise: stdout is the command's own output.
 */
import { EXIT_CODE } from "./ops/exit-codes.ts";
import { ConfigError } from "./config.ts";
import { createLogger, flushLogs, type Logger } from "./ops/logger.ts";
import { loadConfigOrExit } from "./ops/startup.ts";
import type { Provider } from "./providers.ts";
import { startProviders } from "./start-providers.ts";
import { describeDatabase } from "./db/describe-database.ts";
import { innermostMessage, isUnavailable } from "./db/errors.ts";

export interface CommandContext {
  get<T>(provider: Provider<T>): T;
  log: Logger;
  /** Writes a line of the command's output (stdout). */
  print(line: string): void;
}

/** Resolves with the exit code: `run`'s, or 1 when it failed, 2 for a bad configuration. */
export async function runCommand(needs: readonly Provider<unknown>[], run: (ctx: CommandContext) => Promise<number>): Promise<number> {
  const config = loadConfigOrExit(undefined, process.stderr);
  const log = createLogger({
    level: config.env.LOG_LEVEL === undefined ? "warn" : config.logLevel,
    format: config.logFormat ?? (process.stderr.isTTY ? "pretty" : "json"),
    destination: process.stderr,
    service: config.serviceName,
  });
  let code: number = EXIT_CODE.failed;
  try {
    const started = await startProviders(needs, config, log);
    try {
      code = await run({ get: (provider) => started.providers.get(provider), log, print: (line) => process.stdout.write(`${line}\n`) });
    } finally {
      await started.close();
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) log.fatal({ problem }, `configuration: ${problem}`);
      code = EXIT_CODE.config;
    } else if (isUnavailable(error)) {
      // An operator's mistake as often as an outage: one plain line, not a stack trace.
      const where = config.database ? describeDatabase(config.database.url) : "the embedded database";
      process.stderr.write(`cannot reach ${where}: ${innermostMessage(error)}\n`);
      code = EXIT_CODE.failed;
    } else {
      log.fatal({ err: error }, "the command failed");
      code = EXIT_CODE.failed;
    }
  }
  flushLogs();
  return code;
}
