/**
 * The one owner of logging: pino on stdout (or a given stream), with every field that could hold
 * a secret redacted at every level. Code logs token ids and jtis, never values; the redaction
 * list is the safety net behind that rule.
 *
 * Two formats (LOG_FORMAT): JSON lines for machines, and pino-pretty's lines for people — the
 * default when stdout is a terminal. Redaction happens in pino before either is written, so both
 * hide the same fields. Pretty lines are written synchronously (a developer's terminal, where a
 * line lost at exit is the one that said why); JSON lines asynchronously, flushed on exit.
 */
import { createRequire } from "node:module";
import { pino, type Logger, type DestinationStream } from "pino";
import type PinoPretty from "pino-pretty";

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
  "PLUGBOARD_API_TOKEN",
  "apiToken",
];

/** Paths for the secret keys at the top and up to three levels down. */
const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

export type LogFormat = "json" | "pretty";

export interface LoggerOptions {
  level?: string;
  /** Default: pretty when stdout is a terminal (and no destination is given), JSON otherwise. */
  format?: LogFormat | undefined;
  /** Where lines go; stdout when absent. */
  destination?: DestinationStream;
  /** Every line's `service` (SERVICE_NAME: the app's package name); default "vera-service". */
  service?: string;
}

let stdoutDestination: ReturnType<typeof pino.destination> | undefined;
let stdoutSync: ReturnType<typeof pino.destination> | undefined;

/** pino-pretty, loaded on first use: a JSON-logging process never loads it. */
function prettifier(colorize: boolean): (line: string) => string {
  const { prettyFactory } = createRequire(import.meta.url)("pino-pretty") as typeof PinoPretty;
  return prettyFactory({ colorize, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service" });
}

/**
 * Pretty lines, written as they come: synchronously to stdout, or to the given destination.
 * The prettifier is pino-pretty's own, run in this thread (no transport worker to lose lines).
 */
function prettyDestination(destination: DestinationStream | undefined): DestinationStream {
  const pretty = prettifier(destination === undefined && process.stdout.isTTY === true);
  return {
    write(line: string) {
      const text = pretty(line);
      // SonicBoom in sync mode: each line is written before write() returns (EAGAIN retried).
      (destination ?? (stdoutSync ??= pino.destination({ dest: 1, sync: true }))).write(text);
    },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? (options.destination === undefined && process.stdout.isTTY === true ? "pretty" : "json");
  let destination = options.destination;
  if (format === "pretty") {
    destination = prettyDestination(destination);
  } else if (!destination) {
    // Asynchronous writes keep logging off the request path; flushLogs() drains them on exit.
    stdoutDestination ??= pino.destination({ dest: 1, sync: false });
    destination = stdoutDestination;
  }
  return pino(
    {
      level: options.level ?? "info",
      base: { service: options.service ?? "vera-service" },
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
