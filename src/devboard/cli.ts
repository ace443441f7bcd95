/**
 * `vera-service plugboard`: the dev plugboard alone, on PLUGBOARD_HOST:PLUGBOARD_PORT (127.0.0.1:4000).
 * Consumers connect with the printed socket URL and token; the explorer is at the printed URL;
 * callers of the real plugboard's API shape use the printed curl line (service id, account token).
 */
import { parseCommandLine } from "../cli/arguments.ts";
import { printParseResult } from "../cli/print.ts";
import { loadConfigOrExit } from "../ops/startup.ts";
import { createLogger, flushLogs, type Logger } from "../ops/logger.ts";
import { DevPlugboard } from "./server.ts";

function announce(log: Logger, board: DevPlugboard, tokenFromEnv: boolean): void {
  // A TOKEN from the environment may be a real one: say where it came from, never print it.
  const token = tokenFromEnv ? "the TOKEN from the environment" : board.token;
  log.info(
    { websocket_url: board.socketUrl, explorer: `${board.url}/` },
    `dev plugboard ready: WEBSOCKET_URL=${board.socketUrl} TOKEN=${token} explorer ${board.url}/`,
  );
  // The account token is this board's own dev secret (never the consumers' TOKEN): printing it is fine.
  log.info(
    { service_id: board.service.id, http_mode: board.httpMode },
    `call it as callers of the Vera Plugboard do (PLUGBOARD_HTTP=${board.httpMode}): ${board.curlExample()}`,
  );
  for (const service of board.services().slice(1)) {
    log.info({ hosted_service: service.name, service_id: service.id }, `also hosting ${service.name} (service_id ${service.id}): its consumers join with its token from PLUGBOARD_SERVICES`);
  }
  // The logger batches stdout writes; the developer needs this line now.
  flushLogs();
}

/** Resolves with the exit code once a signal has stopped the board: 0 for a clean stop. */
function stopOnSignals(log: Logger, board: DevPlugboard): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      // A second signal means: do not wait for the clean stop.
      if (stopping) process.exit(1);
      stopping = true;
      log.info({ signal }, "dev plugboard stopping");
      void board.stop().then(() => resolve(0));
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

export const USAGE = `usage: vera-service plugboard
  Runs the dev plugboard alone on PLUGBOARD_HOST:PLUGBOARD_PORT (127.0.0.1:4000), configured by
  the environment (PLUGBOARD_*, TOKEN, PLUGBOARD_API_TOKEN); prints its socket URL and token.
  -h, --help   this text`;

export async function plugboard(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { usage: USAGE, options: {} });
  if (!parsed.ok) return printParseResult(parsed, USAGE);
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.logLevel, format: config.logFormat, service: config.serviceName });
  const board = await DevPlugboard.start({
    port: config.plugboard.port,
    host: config.plugboard.host,
    allowedHosts: config.plugboard.allowedHosts,
    httpMode: config.plugboard.httpMode,
    ...(config.token ? { token: config.token } : {}),
    ...(config.calls.apiToken ? { accountToken: config.calls.apiToken } : {}),
    services: config.plugboard.services,
    log,
  });
  announce(log, board, config.token !== undefined);
  return stopOnSignals(log, board);
}
