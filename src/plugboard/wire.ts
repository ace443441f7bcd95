/**
 * The wire vocabulary: every topic, event name and protocol constant of the Phoenix
 * channel protocol and the Vera Plugboard, in one place. No other module spells these strings.
 */

export const SOCKET_PATH = "/websocket";
export const VSN_V2 = "2.0.0";

export const TOPIC = {
  phoenix: "phoenix",
  service: "service",
} as const;

/** Events reserved by Phoenix itself. */
export const PHX = {
  join: "phx_join",
  leave: "phx_leave",
  reply: "phx_reply",
  close: "phx_close",
  error: "phx_error",
  heartbeat: "heartbeat",
} as const;

/** Events of the Vera Plugboard's `service` channel. */
export const EVENT = {
  request: "request",
  response: "response",
  numConsumers: "num_consumers",
  serviceUpdated: "service_updated",
  serviceDeleted: "service_deleted",
  tokenCreated: "token_created",
  tokenDeleted: "token_deleted",
} as const;

export const REPLY_STATUS = { ok: "ok", error: "error" } as const;

/** The plugboard gives up on a request after this long (its HTTP side answers 408). */
export const PLUGBOARD_REQUEST_TIMEOUT_MS = 30_000;
/** Phoenix closes a socket that sent nothing for this long. */
export const SERVER_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;

/** Reconnect backoff: grows from 10 ms to 5 s; after a 403 refusal it grows to 30 s. */
export const RECONNECT_MIN_MS = 10;
export const RECONNECT_MAX_MS = 5_000;
export const REFUSED_RECONNECT_MAX_MS = 30_000;
