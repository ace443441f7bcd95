/**
 * What a plugboard's `POST /` answer means for the caller. Two plugboards answer differently
 * (docs/protocol.md):
 *
 * - the Vera Plugboard: 200 `{status: "success", message}`, 400 `{status: "error", message}`,
 *   408, 422, 502 — `message` a string, or `{text, status_code, fields}` from a consumer with
 *   MESSAGE_FORMAT=answer, whose status code and fields then survive;
 * - the dev plugboard in its default mode: the consumer's whole payload `{status, status_code,
 *   message, fields}`, its status code as the HTTP status; its own errors as the real one's.
 */
import { isJsonObject } from "../json.ts";
import type { CallFailureReason } from "./types.ts";

export type ReadAnswer =
  | { ok: true; statusCode: number; message: string; fields: Record<string, unknown> | null }
  | { ok: false; reason: CallFailureReason; statusCode: number; message: string; fields: Record<string, unknown> | null };

/** The plugboard's own answers that are not the callee's. */
const PLUGBOARD_STATUS: Record<number, CallFailureReason> = { 401: "refused", 403: "refused", 408: "timeout", 422: "no_consumer", 502: "bad_gateway" };

export function readAnswer(httpStatus: number, body: unknown): ReadAnswer {
  const object = isJsonObject(body) ? body : undefined;
  const text = (value: unknown) => (typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value));
  // A consumer's whole payload (the dev plugboard's full mode): its own status code.
  if (object && typeof object.status_code === "number" && typeof object.status === "string") {
    return outcome(object.status_code, text(object.message), fieldsOf(object.fields));
  }
  const reason = PLUGBOARD_STATUS[httpStatus];
  if (reason) return { ok: false, reason, statusCode: httpStatus, message: text(object?.message) || `HTTP ${httpStatus}`, fields: null };
  if ((httpStatus === 200 || httpStatus === 400) && object && typeof object.status === "string") {
    // The Vera Plugboard's answer: MESSAGE_FORMAT=answer keeps the callee's status code and fields in `message`.
    const message = object.message;
    if (isJsonObject(message) && typeof message.status_code === "number") return outcome(message.status_code, text(message.text), fieldsOf(message.fields));
    return outcome(httpStatus, text(message), null);
  }
  return { ok: false, reason: "unreachable", statusCode: 502, message: `The plugboard answered HTTP ${httpStatus} with no answer of a service`, fields: null };
}

function outcome(statusCode: number, message: string, fields: Record<string, unknown> | null): ReadAnswer {
  if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode, message, fields };
  return { ok: false, reason: "answered", statusCode, message, fields };
}

function fieldsOf(value: unknown): Record<string, unknown> | null {
  return isJsonObject(value) ? value : null;
}
