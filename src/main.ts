/**
 * Process entry: configuration → app; signals drain it. A bad configuration stops the process
 * before it connects anywhere, one line per problem.
 */
import module from "node:module";
import type { App } from "./app.ts";

// Node 22.1+ keeps V8's compiled code of every module loaded below on disk (NODE_COMPILE_CACHE,
// else <tmpdir>/node-compile-cache), so a restart does not compile them again; Node 20 has no
// such cache and goes on as before. Hence the imports after this line are dynamic.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const { createLogger, flushLogs } = await import("./ops/logger.ts");
const { loadConfigOrExit } = await import("./ops/startup.ts");
const { EXIT_CODE } = await import("./ops/exit-codes.ts");
const { ConfigError, serviceProblems } = await import("./config.ts");

function exit(code: number): never {
  flushLogs();
  process.exit(code);
}

const config = loadConfigOrExit(serviceProblems);
const log = createLogger({ level: config.logLevel, format: config.logFormat });
process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled promise rejection"));

let app: App;
try {
  const { App } = await import("./app.ts");
  app = await App.start({ config, log });
} catch (error) {
  if (error instanceof ConfigError) {
    // A provider's settings (the account module's JWT_*, BCRYPT_* …): one line per problem, as for the framework's own.
    for (const problem of error.problems) log.fatal({ problem }, `configuration: ${problem}`);
    exit(EXIT_CODE.config);
  }
  // One line that says why: the reason is in the message, the stack in err.
  log.fatal({ err: error }, `could not start: ${error instanceof Error ? error.message : String(error)}`);
  exit(EXIT_CODE.failed);
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
