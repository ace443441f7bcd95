/**
 * Process entry: configuration → app; signals drain it. A bad configuration stops the process
 * before it connects anywhere, one line per problem.
 */
import { createLogger, flushLogs } from "./ops/logger.ts";
import { loadConfigOrExit } from "./ops/startup.ts";
import { App } from "./app.ts";
import { serviceProblems } from "./config.ts";

function exit(code: number): never {
  flushLogs();
  process.exit(code);
}

const config = loadConfigOrExit(serviceProblems);
const log = createLogger({ level: config.logLevel, format: config.logFormat });
process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled promise rejection"));

let app: App;
try {
  app = await App.start({ config, log });
} catch (error) {
  // One line that says why: the reason is in the message, the stack in err.
  log.fatal({ err: error }, `could not start: ${error instanceof Error ? error.message : String(error)}`);
  exit(1);
}

let signals = 0;
function onSignal(signal: NodeJS.Signals): void {
  signals++;
  if (signals === 1) {
    log.info({ signal }, "shutting down");
    void app.stop();
  } else {
    void app.stopNow(`second ${signal}`);
  }
}
process.on("SIGTERM", onSignal);
process.on("SIGINT", onSignal);

exit(await app.done);
