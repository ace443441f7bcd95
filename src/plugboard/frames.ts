/**
 * Pure encode/decode of Phoenix channel frames, V1 (objects) and V2 (arrays).
 * Decoding never throws: a frame that is not a well-formed message yields an error string.
 */

import { isJsonObject } from "../json.ts";

export type Ref = string | null;

export interface Message {
  join_ref: Ref;
  ref: Ref;
  topic: string;
  event: string;
  payload: unknown;
}

export type Serializer = "v1" | "v2";

export type Decoded = { ok: true; message: Message } | { ok: false; error: string };

export function encode(message: Message, serializer: Serializer = "v2"): string {
  const { payload } = message;
  if (serializer === "v2") {
    return JSON.stringify([message.join_ref, message.ref, message.topic, message.event, payload]);
  }
  return JSON.stringify({
    topic: message.topic,
    event: message.event,
    payload,
    ref: message.ref,
    ...(message.join_ref !== null ? { join_ref: message.join_ref } : {}),
  });
}

/**
 * The V2 frame text for messages of one kind (one join_ref, topic and event) whose payloads are
 * encoded already, the constant part JSON-encoded once: the answers' path, where encoding the
 * same three strings again for every answer was a measurable share of a cheap request.
 */
export function encodedFrames(joinRef: Ref, topic: string, event: string): (ref: Ref, payloadText: string) => string {
  const head = `[${JSON.stringify(joinRef)},`;
  const tail = `,${JSON.stringify(topic)},${JSON.stringify(event)},`;
  return (ref, payloadText) => `${head}${JSON.stringify(ref)}${tail}${payloadText}]`;
}

function isRef(value: unknown): value is Ref {
  return value === null || typeof value === "string";
}

function check(candidate: Message): Decoded {
  if (typeof candidate.topic !== "string" || candidate.topic === "") return { ok: false, error: "topic is not a string" };
  if (typeof candidate.event !== "string" || candidate.event === "") return { ok: false, error: "event is not a string" };
  if (!isRef(candidate.ref)) return { ok: false, error: "ref is neither a string nor null" };
  if (!isRef(candidate.join_ref)) return { ok: false, error: "join_ref is neither a string nor null" };
  return { ok: true, message: candidate };
}

export function decode(text: string, serializer: Serializer = "v2"): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, error: "frame is not JSON" };
  }
  if (serializer === "v2") {
    if (!Array.isArray(parsed) || parsed.length !== 5) return { ok: false, error: "frame is not a 5-element array" };
    const [join_ref, ref, topic, event, payload] = parsed as unknown[];
    return check({ join_ref, ref, topic, event, payload } as Message);
  }
  if (!isJsonObject(parsed)) {
    return { ok: false, error: "frame is not a JSON object" };
  }
  const obj = parsed as Record<string, unknown>;
  return check({
    join_ref: (obj.join_ref ?? null) as Ref,
    ref: (obj.ref ?? null) as Ref,
    topic: obj.topic,
    event: obj.event,
    payload: obj.payload ?? {},
  } as Message);
}
