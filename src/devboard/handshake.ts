/**
 * The connect check of the dev plugboard: what the Vera Plugboard verifies before it upgrades a
 * request to a WebSocket. Every refusal is the same bare 403 on the wire; the reason only reaches
 * the board's log and its `refused` event.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import type { Serializer } from "../plugboard/frames.ts";
import { SOCKET_PARAM, VSN_V2_PATTERN } from "../plugboard/wire.ts";
import { isJsonObject } from "../json.ts";

export type ActionsObject = Record<string, unknown>;

export interface AcceptedHandshake {
  ok: true;
  serializer: Serializer;
  /** The `vsn` query parameter as sent; null when absent (V1). */
  vsn: string | null;
  /** Every query parameter, for test hooks. */
  params: Record<string, string>;
  /** The decoded `actions` parameter. */
  actions: ActionsObject;
}

export type Handshake = AcceptedHandshake | { ok: false; reason: string };

/** Structural JSON equality: object key order is irrelevant, array order matters. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameJson(item, b[i]));
  }
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && sameJson(a[key], b[key]));
}

/** Compares digests so the comparison takes the same time whatever the guess. */
export function sameToken(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function serializerFor(vsn: string | null): Serializer | null {
  if (vsn === null) return "v1";
  return VSN_V2_PATTERN.test(vsn) ? "v2" : null;
}

function parseActions(text: string | null): ActionsObject | null {
  if (text === null) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    return isJsonObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * Decides whether a socket may connect. `joinedActions` is what the consumers already joined
 * published (null when none is joined): a newcomer must publish the same, structurally.
 */
export function checkHandshake(url: URL, expectedToken: string, joinedActions: ActionsObject | null): Handshake {
  const query = url.searchParams;
  const token = query.get(SOCKET_PARAM.token);
  if (token === null || !sameToken(token, expectedToken)) return { ok: false, reason: "bad or missing token" };
  const vsn = query.get(SOCKET_PARAM.vsn);
  const serializer = serializerFor(vsn);
  if (serializer === null) return { ok: false, reason: `unsupported vsn ${JSON.stringify(vsn)}` };
  const actions = parseActions(query.get(SOCKET_PARAM.actions));
  if (actions === null) return { ok: false, reason: "actions missing or not a JSON object" };
  if (joinedActions !== null && !sameJson(actions, joinedActions)) {
    return { ok: false, reason: "actions differ from the consumers already joined" };
  }
  return { ok: true, serializer, vsn, params: Object.fromEntries(query), actions };
}
