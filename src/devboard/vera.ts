/**
 * The Vera Plugboard's own HTTP API, as the dev board models it: the request shape callers of
 * the real plugboard send (`{service_id, action, fields}` with `Authorization: Bearer <account
 * API token>`) and the answer they get back (`vera` mode), which differs from the consumer's
 * payload the board relays in `full` mode.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { isJsonObject } from "../json.ts";
import { errorAnswer, fullAnswer, type HttpAnswer } from "./router.ts";

/** `full`: status = the payload's status_code, body = the payload. `vera`: the real plugboard's answer. */
export type HttpMode = "full" | "vera";
const HTTP_MODES = ["full", "vera"] as const satisfies readonly HttpMode[];

/** The messages of the answers the dev board gives in the real plugboard's place (the wording of the board, kept here only). */
export const VERA_HTTP_MESSAGE = {
  missingParams: 'Missing parameters: "service_id" and "action" must be strings',
  invalidToken: "Invalid token",
  forbidden: "Insufficient permissions for this service",
  badAnswer: "Invalid response from the service consumer",
} as const;

/**
 * What a caller of the real plugboard receives for a consumer's payload: `status: "success"` →
 * 200, any other `status` → 400, both with `{status, message}` only (`message` as the consumer
 * sent it, `status_code` and `fields` dropped); without `status` or `message` → 502.
 */
export function veraAnswer(payload: unknown): HttpAnswer {
  if (!isJsonObject(payload) || !("status" in payload) || !("message" in payload)) return errorAnswer(502, VERA_HTTP_MESSAGE.badAnswer);
  const success = payload.status === "success";
  return { status: success ? 200 : 400, body: { status: success ? "success" : "error", message: payload.message } };
}

/** The board's answer to a consumer payload in `mode`. */
export function answerInMode(mode: HttpMode, payload: unknown): HttpAnswer {
  return mode === "vera" ? veraAnswer(payload) : fullAnswer(payload);
}

/** One call's answer in both modes, for the explorer; `mode` is the board's. */
export interface ModeAnswers {
  mode: HttpMode;
  full: HttpAnswer;
  vera: HttpAnswer;
}

/** Whether a request is judged as one to the real plugboard: it names a service or carries credentials. */
export function isVeraRequest(body: Record<string, unknown>, headers: IncomingHttpHeaders): boolean {
  return "service_id" in body || headers.authorization !== undefined;
}

/** What the board expects of a real-shaped request. */
export interface VeraCredentials {
  accountToken: string;
  /** The services the board hosts: the account token may call each. */
  serviceIds: readonly string[];
}

/** A call to route: to the service named (a real-shaped request), else to the board's first service. */
export type VeraCall = { ok: true; action: string; fields: unknown; serviceId?: string } | { ok: false; answer: HttpAnswer };

/** The token of an `Authorization: Bearer <token>` header (scheme in any case), or undefined. */
function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? "");
  return match?.[1];
}

/** Compares two secrets in time independent of where they differ (and of their lengths, through their digests). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Judges a real-shaped request as the plugboard does: the account token first (401), then the
 * parameters (400), then whether the token may call that service (403).
 */
export function judgeVeraRequest(body: Record<string, unknown>, authorization: string | undefined, expected: VeraCredentials): VeraCall {
  const token = bearerToken(authorization);
  if (token === undefined || !sameSecret(token, expected.accountToken)) return { ok: false, answer: errorAnswer(401, VERA_HTTP_MESSAGE.invalidToken) };
  if (typeof body.service_id !== "string" || typeof body.action !== "string") return { ok: false, answer: errorAnswer(400, VERA_HTTP_MESSAGE.missingParams) };
  if (!expected.serviceIds.includes(body.service_id)) return { ok: false, answer: errorAnswer(403, VERA_HTTP_MESSAGE.forbidden) };
  // An absent `fields` reaches the consumer as null, as in the dev shape.
  return { ok: true, action: body.action, fields: body.fields ?? null, serviceId: body.service_id };
}
