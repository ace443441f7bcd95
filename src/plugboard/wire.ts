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

/** Reconnect backoff: grows from 10 ms to 5 s; after a 403 refusal it grows to 30 s. */
export const RECONNECT_MIN_MS = 10;
export const RECONNECT_MAX_MS = 5_000;
export const REFUSED_RECONNECT_MAX_MS = 30_000;

/** Query parameters of the socket URL. */
export const SOCKET_PARAM = { token: "token", actions: "actions", vsn: "vsn" } as const;
/** `vsn` values Phoenix maps to the V2 serializer (`~> 2.0.0`); an absent vsn means V1. */
export const VSN_V2_PATTERN = /^2\.0\.\d+$/;

/** The `reason` of the error reply to a frame on a topic that is not joined. */
export const UNMATCHED_TOPIC_REASON = "unmatched topic";

/** WebSocket close codes the server side uses. */
export const CLOSE_CODE = {
  normal: 1000,
  goingAway: 1001,
  /** Phoenix closes with this when it cannot decode a frame. */
  undecodable: 1011,
  /** A server with a frame size limit closes with this when a frame exceeds it. */
  messageTooBig: 1009,
} as const;

/** The Vera Plugboard's HTTP side: the messages of its own error answers. */
export const PLUGBOARD_HTTP_MESSAGE = {
  noConsumers: "No service consumers are available to handle the request",
  timedOut: "Request timed out",
} as const;

/**
 * The `actions` JSON travels in the connect URL's query string. The Vera Plugboard's socket is
 * served by Bandit, which answers 414 to a request line over 10,000 bytes before Phoenix sees it
 * (docs/protocol.md, "Connecting"); past this size, a little below that limit, we warn.
 */
export const CONNECT_URL_WARN_BYTES = 9_000;
