#!/usr/bin/env node
/**
 * The `vera-service` command: the one entry of every process the package runs. An app's
 * package.json scripts call it (`vera-service dev`, `build`, `start` …); each subcommand is
 * loaded only when asked for, so `start` loads neither the compiler nor the dev plugboard.
 */
import module from "node:module";

// Node 22.1+ keeps V8's compiled code of every module loaded below on disk (NODE_COMPILE_CACHE,
// else <tmpdir>/node-compile-cache), so a restart does not compile them again; Node 20 has no
// such cache and goes on as before. Hence every import after this line is dynamic.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { runCommandLine } = await import("./commands.ts");
const code = await runCommandLine(process.argv.slice(2));
const { flushLogs } = await import("../ops/logger.ts");
flushLogs();
process.exit(code);
