/**
 * One consumer socket on the dev plugboard: the Phoenix channel protocol as the server side
 * plays it (heartbeats, joins, leaves, crashes, unmatched topics, stale join_refs, idle close).
 * The board decides everything that spans sockets (join replies, answers, num_consumers) through
 * the ConnectionHost it passes in.
 */
import { WebSocket, type RawData } from "ws";
import { decode, encode, type Message, type Ref, type Serializer } from "../plugboard/frames.ts";
import { CLOSE_CODE, EVENT, PHX, REPLY_STATUS, TOPIC, UNMATCHED_TOPIC_REASON } from "../plugboard/wire.ts";
import type { AcceptedHandshake, ActionsObject } from "./handshake.ts";

/** Why a consumer stopped being joined. */
export type UnjoinReason = "left" | "crashed" | "disconnected";

/** A snapshot of one connected consumer, for tests and logs. */
export interface ConsumerInfo {
  id: string;
  vsn: string | null;
  serializer: Serializer;
  joined: boolean;
  joinRef: Ref;
  params: Record<string, string>;
}

export type Admission = { ok: true; response: unknown } | { ok: false; reason: string };

/** What a connection needs from the board it belongs to. */
export interface ConnectionHost {
  answersHeartbeats(): boolean;
  /** The ok join reply for this consumer, or why it may not join. */
  admit(connection: ConsumerConnection): Admission;
  joined(connection: ConsumerConnection): void;
  unjoined(connection: ConsumerConnection, reason: UnjoinReason): void;
  answered(connection: ConsumerConnection, ref: string, payload: unknown): void;
  frame(direction: "in" | "out", connection: ConsumerConnection, text: string): void;
  undecodable(connection: ConsumerConnection, error: string): void;
  closed(connection: ConsumerConnection, code: number, reason: string): void;
}

export interface ConnectionOptions {
  id: string;
  socket: WebSocket;
  handshake: AcceptedHandshake;
  host: ConnectionHost;
  idleTimeoutMs: number;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export class ConsumerConnection {
  readonly id: string;
  readonly serializer: Serializer;
  readonly vsn: string | null;
  readonly params: Record<string, string>;
  readonly actions: ActionsObject;
  /** Whether topic `service` is joined; joinRef may be null even then (V1 clients may omit it). */
  private isJoined = false;
  private currentJoinRef: Ref = null;
  private readonly socket: WebSocket;
  private readonly host: ConnectionHost;
  private readonly idleTimer: NodeJS.Timeout;
  private markClosed!: () => void;
  /** Settles once the socket is closed and the board has been told. */
  readonly closed = new Promise<void>((resolve) => (this.markClosed = resolve));

  constructor(options: ConnectionOptions) {
    this.id = options.id;
    this.socket = options.socket;
    this.host = options.host;
    this.serializer = options.handshake.serializer;
    this.vsn = options.handshake.vsn;
    this.params = options.handshake.params;
    this.actions = options.handshake.actions;
    this.idleTimer = setTimeout(() => this.closeIdle(), options.idleTimeoutMs);
    this.socket.on("message", (data, isBinary) => this.receive(toBuffer(data), isBinary));
    this.socket.on("close", (code, reason) => this.onClose(code, reason.toString("utf8")));
    // Errors (a peer that vanished, a protocol violation) are followed by "close": handled there.
    this.socket.on("error", () => undefined);
  }

  get joined(): boolean {
    return this.isJoined;
  }

  get joinRef(): Ref {
    return this.currentJoinRef;
  }

  info(): ConsumerInfo {
    return {
      id: this.id,
      vsn: this.vsn,
      serializer: this.serializer,
      joined: this.isJoined,
      joinRef: this.currentJoinRef,
      params: { ...this.params },
    };
  }

  /** A server push on `service`: join_ref of the channel, ref null. */
  push(event: string, payload: unknown): void {
    this.send({ join_ref: this.currentJoinRef, ref: null, topic: TOPIC.service, event, payload });
  }

  /** The channel process dies: phx_error with ref = join_ref, and the topic is no longer joined. */
  crash(): void {
    if (!this.isJoined) return;
    this.sendChannelEnd(PHX.error);
    this.unjoin("crashed");
  }

  /** Starts a clean close handshake. */
  close(code: number): void {
    this.socket.close(code);
  }

  /**
   * Drops the connection without a close frame, like a crashed server or a cut cable. The board
   * stops routing to it at once, and what was already written still goes out before the FIN
   * (as the kernel would send it): a request pushed before the drop reaches the consumer, so a
   * lost answer is the consumer's doing, never the board's.
   */
  terminate(): void {
    if (this.isJoined) this.unjoin("disconnected");
    // ws has no "flush, then drop" call: end the TCP socket under it, destroy it if it lingers.
    const raw = (this.socket as unknown as { _socket?: import("node:net").Socket })._socket;
    if (!raw) return this.socket.terminate();
    raw.end();
    setTimeout(() => this.socket.terminate(), 1_000).unref();
  }

  /** Sends a text frame as given, well-formed or not (tests of a consumer's robustness). */
  sendText(text: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.host.frame("out", this, text);
    this.socket.send(text);
  }

  private send(message: Message): void {
    // The V1 serializer never carries join_ref from the server.
    const outgoing = this.serializer === "v1" ? { ...message, join_ref: null } : message;
    this.sendText(encode(outgoing, this.serializer));
  }

  private reply(ref: Ref, joinRef: Ref, topic: string, status: string, response: unknown): void {
    this.send({ join_ref: joinRef, ref, topic, event: PHX.reply, payload: { status, response } });
  }

  private replyUnmatched(message: Message): void {
    this.reply(message.ref, null, message.topic, REPLY_STATUS.error, { reason: UNMATCHED_TOPIC_REASON });
  }

  /** phx_close or phx_error for the current join: ref = join_ref = that join's ref, payload {}. */
  private sendChannelEnd(event: string, joinRef: Ref = this.currentJoinRef): void {
    this.send({ join_ref: joinRef, ref: joinRef, topic: TOPIC.service, event, payload: {} });
  }

  private unjoin(reason: UnjoinReason): void {
    this.isJoined = false;
    this.currentJoinRef = null;
    this.host.unjoined(this, reason);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    // Once closing (idle, undecodable, stop) the socket takes nothing more.
    if (this.socket.readyState !== WebSocket.OPEN) return;
    // Phoenix's idle timeout counts any inbound frame, not only heartbeats.
    this.idleTimer.refresh();
    const text = isBinary ? `<binary frame of ${data.length} bytes>` : data.toString("utf8");
    this.host.frame("in", this, text);
    if (isBinary) return this.fail("binary frame");
    const decoded = decode(text, this.serializer);
    if (!decoded.ok) return this.fail(decoded.error);
    this.handle(decoded.message);
  }

  private fail(error: string): void {
    this.host.undecodable(this, error);
    this.socket.close(CLOSE_CODE.undecodable);
  }

  private handle(message: Message): void {
    if (message.topic === TOPIC.phoenix && message.event === PHX.heartbeat) return this.onHeartbeat(message);
    // A join is handled before the stale-join_ref check: it carries the new join_ref by definition.
    if (message.event === PHX.join) return this.onJoin(message);
    if (message.topic !== TOPIC.service || !this.isJoined) return this.replyUnmatched(message);
    // Phoenix ≥ 1.8.3 drops a non-null stale join_ref silently and accepts null.
    if (message.join_ref !== null && message.join_ref !== this.currentJoinRef) return;
    if (message.event === PHX.leave) return this.onLeave(message);
    if (message.event === EVENT.response) return this.onResponse(message);
    // The plugboard's channel has no handler for any other event: its process dies.
    this.crash();
  }

  private onHeartbeat(message: Message): void {
    if (!this.host.answersHeartbeats()) return;
    this.reply(message.ref, null, TOPIC.phoenix, REPLY_STATUS.ok, {});
  }

  private onJoin(message: Message): void {
    if (message.topic !== TOPIC.service) return this.replyUnmatched(message);
    const admission = this.host.admit(this);
    if (!admission.ok) {
      return this.reply(message.ref, message.join_ref, message.topic, REPLY_STATUS.error, { reason: admission.reason });
    }
    const wasJoined = this.isJoined;
    const oldJoinRef = this.currentJoinRef;
    this.isJoined = true;
    this.currentJoinRef = message.join_ref;
    this.reply(message.ref, message.join_ref, TOPIC.service, REPLY_STATUS.ok, admission.response);
    // A duplicate join replaces the old channel: its phx_close follows the new join's reply.
    if (wasJoined) this.sendChannelEnd(PHX.close, oldJoinRef);
    this.host.joined(this);
  }

  private onLeave(message: Message): void {
    this.reply(message.ref, this.currentJoinRef, TOPIC.service, REPLY_STATUS.ok, {});
    this.sendChannelEnd(PHX.close);
    this.unjoin("left");
  }

  private onResponse(message: Message): void {
    // Never replied to: the plugboard matches the waiting caller by the frame's ref.
    if (message.ref !== null) this.host.answered(this, message.ref, message.payload);
  }

  private closeIdle(): void {
    this.socket.close(CLOSE_CODE.normal);
  }

  private onClose(code: number, reason: string): void {
    clearTimeout(this.idleTimer);
    if (this.isJoined) this.unjoin("disconnected");
    this.host.closed(this, code, reason);
    this.markClosed();
  }
}
