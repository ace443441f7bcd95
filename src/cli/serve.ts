/**
 * The service as a process (`vera-service start` and `dev`): configuration → app; signals drain
 * it. A bad configuration stops the process before it connects anywhere, one line per problem.
 * Resolves with the process's exit code once the app has stopped.
 */
import type { App } from "../app.ts";
import { createLogger, flushLogs } from "../ops/logger.ts";
import { loadConfigOrExit } from "../ops/startup.ts";
import { EXIT_CODE } from "../ops/exit-codes.ts";
import { ConfigError, serviceProblems } from "../config.ts";

export async function serve(): Promise<number> {
  const config = loadConfigOrExit(serviceProblems);
  const log = createLogger({ level: config.logLevel, format: config.logFormat, service: config.serviceName });
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled promise rejection"));

  // Signals are taken from the start: one that comes while the app starts stops it as soon as it
  // has (a process killed half-started could leave the embedded database's lock or a half-joined
  // channel); a second one during the start ends the process at once.
  let app: App | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      if (app) void app.stopNow(`second ${signal}`);
      else process.exit(EXIT_CODE.failed);
    } else if (app) {
      log.info({ signal }, "shutting down");
      void app.stop();
    } else {
      log.info({ signal }, "shutting down once started");
    }
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    const { App } = await import("../app.ts");
    app = await App.start({ config, log });
  } catch (error) {
    if (error instanceof ConfigError) {
      // A provider's settings (the account module's JWT_*, BCRYPT_* …): one line per problem, as for the framework's own.
      for (const problem of error.problems) log.fatal({ problem }, `configuration: ${problem}`);
      return EXIT_CODE.config;
    }
    // One line that says why: the reason is in the message, the stack in err.
    log.fatal({ err: error }, `could not start: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_CODE.failed;
  }
  if (signals > 0) {
    log.info("shutting down");
    void app.stop();
  }
  const code = await app.done;
  flushLogs();
  return code;
}
