/** A logger whose lines tests can read: the same pino setup (and redaction) as production. */
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/ops/logger.ts";

export interface CapturedLogger {
  log: Logger;
  lines: () => Array<Record<string, unknown>>;
  text: () => string;
}

export function captureLogs(level = "trace"): CapturedLogger {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const log = createLogger({ level, destination: stream });
  const text = () => chunks.join("");
  const lines = () =>
    text()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, text };
}
