/**
 * The one owner of logging: pino JSON lines on stdout (or a given stream), with every field
 * that could hold a secret redacted at every level. Code logs token ids and jtis, never values;
 * the redaction list is the safety net behind that rule.
 */
import { pino, type Logger, type DestinationStream } from "pino";

export type { Logger };

const SECRET_KEYS = [
  "password",
  "current_password",
  "password_digest",
  "digest",
  "jwt",
  "token",
  "value",
  "secret",
  "authorization",
  "TOKEN",
  "JWT_SECRET",
  "JWT_PRIVATE_KEY",
];

/** Paths for the secret keys at the top and up to three levels down. */
const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

export interface LoggerOptions {
  level?: string;
  /** Where lines go; stdout (asynchronously) when absent. */
  destination?: DestinationStream;
}

let stdoutDestination: ReturnType<typeof pino.destination> | undefined;

export function createLogger(options: LoggerOptions = {}): Logger {
  let destination = options.destination;
  if (!destination) {
    // Asynchronous writes keep logging off the request path; flushLogs() drains them on exit.
    stdoutDestination ??= pino.destination({ dest: 1, sync: false });
    destination = stdoutDestination;
  }
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "vera-service" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Writes out buffered log lines; call before process.exit. */
export function flushLogs(): void {
  try {
    stdoutDestination?.flushSync();
  } catch {
    // Nothing sensible to do if stdout is gone.
  }
}
