/**
 * Status codes and their messages are decided here and nowhere else. Actions return these
 * responses (or throw ActionError); the dispatcher turns anything else into 500 or 503.
 */

/** What an action answers: the seed service's ActionResponse. */
export interface ActionResponse<F = unknown> {
  status_code: number;
  message: string | null;
  fields: F | null;
}

/** What goes on the wire: the plugboard's HTTP side reads `status` and `message`. */
export interface AnswerPayload extends ActionResponse {
  status: "success" | "error";
}

export const MESSAGES = {
  unknownAction: (name: string) => `Unknown action: ${name}`,
  invalidFields: (details: string) => `Invalid fields: ${details}`,
  internal: "Internal server error",
  unavailable: "Service unavailable",
  overloaded: "Service unavailable: too many requests",
  shuttingDown: "Service unavailable: shutting down",
  timedOut: "Action timed out",
  requestTooLarge: (limit: number) => `Request too large: at most ${limit} bytes`,
  answerTooLarge: "Internal server error: answer too large",
} as const;

function response<F>(status_code: number, message: string | null, fields?: F | null): ActionResponse<F> {
  return { status_code, message, fields: fields ?? null };
}

export const ok = <F>(message: string | null = "OK", fields?: F | null) => response(200, message, fields);
export const created = <F>(message: string | null = "Created", fields?: F | null) => response(201, message, fields);
export const badRequest = <F>(message: string, fields?: F | null) => response(400, message, fields);
export const unauthorized = <F>(message: string, fields?: F | null) => response(401, message, fields);
export const forbidden = <F>(message: string, fields?: F | null) => response(403, message, fields);
export const notFound = <F>(message: string, fields?: F | null) => response(404, message, fields);
export const conflict = <F>(message: string, fields?: F | null) => response(409, message, fields);
export const tooManyRequests = <F>(message: string, fields?: F | null) => response(429, message, fields);
export const payloadTooLarge = (limit: number) => response(413, MESSAGES.requestTooLarge(limit));
export const internalError = () => response(500, MESSAGES.internal);
export const answerTooLarge = () => response(500, MESSAGES.answerTooLarge);
export const unavailable = (message: string = MESSAGES.unavailable) => response(503, message);
export const timedOut = () => response(504, MESSAGES.timedOut);

/** Thrown by an action (or code it calls) to answer with a given status; the dispatcher catches it. */
export class ActionError extends Error {
  constructor(
    readonly status_code: number,
    message: string,
    readonly fields: unknown = null,
  ) {
    super(message);
    this.name = "ActionError";
  }
  toResponse(): ActionResponse {
    return response(this.status_code, this.message, this.fields);
  }
}

/**
 * Thrown when a dependency (the database) is down or too slow: the caller gets 503 and may
 * retry on another replica. The cause is logged, never shown.
 */
export class DependencyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DependencyError";
  }
}

/**
 * Thrown when a bounded resource (the bcrypt workers' queue) is full: the caller gets 503
 * "too many requests" at once instead of waiting behind work that cannot start soon.
 */
export class OverloadedError extends Error {
  constructor(resource: string) {
    super(`${resource} is at capacity`);
    this.name = "OverloadedError";
  }
}

export function isSuccess(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}

/**
 * How an answer travels (MESSAGE_FORMAT). `answer`, the default: `message` becomes `{text,
 * status_code, fields}`, because the Vera Plugboard hands its HTTP caller only `status` and
 * `message` (docs/protocol.md); `status` and `status_code` stay beside it and the top-level
 * `fields` is null, so nothing travels twice. `text`: the payload as it is, `message` a string,
 * for callers that want a plain string and no fields.
 */
export type MessageFormat = "text" | "answer";
export const MESSAGE_FORMATS = ["text", "answer"] as const satisfies readonly MessageFormat[];
export const DEFAULT_MESSAGE_FORMAT: MessageFormat = "answer";

/** The payload as it goes on the wire in `format`. */
export function wirePayload(payload: AnswerPayload, format: MessageFormat): unknown {
  if (format === "text") return payload;
  return {
    status: payload.status,
    status_code: payload.status_code,
    message: { text: payload.message, status_code: payload.status_code, fields: payload.fields },
    fields: null,
  };
}

/** The JSON text of an answer as it goes on the wire in `format`. Throws what JSON.stringify throws. */
export function answerText(payload: AnswerPayload, format: MessageFormat = DEFAULT_MESSAGE_FORMAT): string {
  return JSON.stringify(wirePayload(payload, format));
}

/**
 * A payload as it came off the wire, flat again: an `answer`-format payload back to `{status,
 * status_code, message, fields}`; anything else as it is. For whoever shows a consumer's whole
 * answer (the dev plugboard's full mode).
 */
export function flatPayload(wire: unknown): unknown {
  if (typeof wire !== "object" || wire === null || Array.isArray(wire)) return wire;
  const { status, status_code, message, fields } = wire as Record<string, unknown>;
  if (fields !== null || typeof message !== "object" || message === null || Array.isArray(message)) return wire;
  const inner = message as Record<string, unknown>;
  if (inner.status_code !== status_code || !("text" in inner)) return wire;
  return { status, status_code, message: inner.text, fields: inner.fields ?? null };
}

/** UTF-8 size of a text, counted only when its length leaves any doubt against `limit`. */
export function exceedsBytes(text: string, limit: number): boolean {
  if (text.length * 3 <= limit) return false;
  if (text.length > limit) return true;
  return Buffer.byteLength(text, "utf8") > limit;
}

export function toAnswer(r: ActionResponse): AnswerPayload {
  return {
    status: isSuccess(r.status_code) ? "success" : "error",
    status_code: r.status_code,
    message: r.message,
    fields: r.fields ?? null,
  };
}
