/**
 * The consumer's side of the wire, on the official `phoenix` client with the `ws` transport:
 * connect with token/actions/vsn, join `service`, heartbeat, reconnect and rejoin with
 * backoff, and send answers as socket-level frames whose ref is the request's response_ref.
 * Decoding is ours, so a malformed frame is logged and dropped instead of throwing inside
 * the socket's message handler.
 */
import { Socket, type Channel } from "phoenix";
import { setTimeout as delay } from "node:timers/promises";
import WebSocket from "ws";
import type { Logger } from "../ops/logger.ts";
import type { AnswerPayload, MessageFormat } from "../actions/responses.ts";
import type { Request } from "../actions/dispatcher.ts";
import { decode, encode, encodedFrames, type Message } from "./frames.ts";
import { JOIN_REPLY, type EventContext, type EventHandler } from "./event-handler.ts";
import { Answers } from "./answers.ts";
import type { HandedAnswer } from "./handover.ts";
import { PlugboardState } from "./state.ts";
import { OutageLog } from "./outage-log.ts";
import { reconnectBackoff, rejoinBackoff } from "./backoff.ts";
import { CLOSE_CODE, CONNECT_URL_WARN_BYTES, EVENT, PHX, TOPIC, VSN_V2 } from "./wire.ts";
import { isJsonObject } from "../json.ts";

export interface PlugboardClientOptions {
  /** The full socket URL, e.g. ws://localhost:4000/websocket. */
  url: string;
  token: string;
  /** The published actions, as JSON text (identical on every replica). */
  actionsJson: string;
  log: Logger;
  handlers: readonly EventHandler[];
  /** Answers a request: `done` is called once with the answer and its wire text, perhaps before dispatch returns (src/actions/dispatcher.ts answer). */
  dispatch(request: Request, done: (answer: AnswerPayload, text: string) => void): void;
  /** Called when the consumer must stop for good (e.g. service_deleted). */
  onFatal(reason: string, exitCode: number): void;
  heartbeatIntervalMs?: number;
  /** MESSAGE_FORMAT: how answers are encoded (default answer). */
  messageFormat?: MessageFormat;
  /** ANSWER_HOLD_MS: an answer leaves no sooner than this after its request arrived (src/plugboard/answers.ts). */
  answerHoldMs?: number;
  reconnectAfterMs?: (tries: number, refused: boolean) => number;
  rejoinAfterMs?: (tries: number) => number;
  /** How long to wait for the server to confirm phx_leave. */
  leaveTimeoutMs?: number;
  /** While the plugboard is away, at most one log line per this long (default 30 s). */
  outageSummaryEveryMs?: number;
}

export type ConnectionState = "connecting" | "connected" | "joined" | "closed";

/** How long a drain waits for another replica to take its answers before it delivers them itself. */
const HANDOVER_WITHIN_MS = 2_000;

/** Matches ws's error for a refused upgrade, e.g. "Unexpected server response: 403". */
const REFUSAL = /Unexpected server response: (\d{3})/;

export class PlugboardClient {
  readonly state = new PlugboardState();
  readonly answers: Answers;
  /** Connections opened after the first one. */
  reconnects = 0;
  private readonly options: PlugboardClientOptions;
  private readonly log: Logger;
  private readonly socket: Socket;
  /** The `service` channel; replaced by a new one if the plugboard closes it. */
  private channel!: Channel;
  private readonly handlers = new Map<string, EventHandler>();
  private joined = false;
  private everConnected = false;
  /** What the connect URL publishes; republish() changes it. */
  private actionsJson: string;
  /** A reconnect of our own (republish): its close is no outage. */
  private reconnectingOnPurpose = false;
  /** The last refusal's HTTP status, until a connection opens. */
  private refusedStatus: number | undefined;
  /** When the current connection last delivered a frame: the last moment it was surely alive. */
  private lastHeardAt: number | undefined;
  /** Set when a joined channel was lost; the next join flushes the answers relative to it. */
  private lostHeardAt: number | undefined;
  private lostJoin = false;
  private stopped = false;
  /** Set by drain(): a closed channel is not reopened by itself, drain() decides. */
  private draining = false;
  /** drain()'s brief rejoin waits here for the join. */
  private joinWaiter: (() => void) | undefined;
  private joining: Promise<void> | undefined;
  /** Set once stop() has begun. */
  private stopping: Promise<void> | undefined;
  private readonly outage: OutageLog;
  /** Our phx_leave waiting for its reply. */
  private pendingLeave: { ref: string; done(): void } | undefined;
  private readonly rejoinAfterMs: (tries: number) => number;

  constructor(options: PlugboardClientOptions) {
    this.options = options;
    this.actionsJson = options.actionsJson;
    this.log = options.log.child({ component: "plugboard" });
    this.outage = new OutageLog(this.log, options.outageSummaryEveryMs);
    for (const handler of options.handlers) this.handlers.set(handler.event, handler);
    this.answers = new Answers(
      {
        canSend: () => this.canSend(),
        send: (ref, text) => this.sendAnswer(ref, text),
        replaced: (ref, bytes, limit) =>
          this.log.error({ response_ref: ref, bytes, refused_bytes: limit }, "answer too large for the plugboard's frame limit: sent as a 500 instead"),
      },
      Date.now,
      { format: options.messageFormat, holdMs: options.answerHoldMs },
    );

    const reconnectAfterMs = options.reconnectAfterMs ?? reconnectBackoff;
    this.rejoinAfterMs = options.rejoinAfterMs ?? rejoinBackoff;
    this.socket = new Socket(options.url, {
      transport: this.transportClass(),
      // A function: phoenix.js reads it at each connect, so a republish takes effect on the next one.
      params: () => ({ token: options.token, actions: this.actionsJson }),
      vsn: VSN_V2,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      reconnectAfterMs: (tries: number) => reconnectAfterMs(tries, this.refusedStatus === 403),
      rejoinAfterMs: this.rejoinAfterMs,
      decode: (raw: unknown, callback: (message: Message) => void) => this.decodeFrame(raw, callback),
      encode: (message: Message, callback: (text: string) => void) => callback(encode(message, "v2")),
    } as ConstructorParameters<typeof Socket>[1]);
    // WEBSOCKET_URL is the full socket URL; the phoenix client would append "/websocket" itself.
    (this.socket as unknown as { endPoint: string }).endPoint = options.url;

    this.socket.onOpen(() => this.onOpen());
    this.socket.onClose((event: { code?: number } | undefined) => this.onSocketClosed(event?.code));
    this.socket.onError(() => this.onChannelLost("socket error", { quiet: true }));
    this.socket.onMessage((message: object) => this.onMessage(message as Message));
  }

  /** Connects and joins; rejoins and reconnects by itself from then on. */
  start(): void {
    const urlBytes = Buffer.byteLength(this.socket.endPointURL());
    if (urlBytes > CONNECT_URL_WARN_BYTES) {
      this.log.warn(
        { url_bytes: urlBytes },
        "the connect URL (which carries the actions' schemas) is long: the plugboard (Bandit) refuses request lines over 10,000 bytes with 414; shorten action descriptions or publish fewer actions",
      );
    }
    this.socket.connect();
    this.openChannel();
  }

  /** Creates the `service` channel with the event handlers wired, and joins it. */
  private openChannel(): void {
    const channel = this.socket.channel(TOPIC.service, {});
    this.channel = channel;
    channel.onError(() => this.onChannelLost("channel error"));
    channel.onClose(() => this.onChannelClosed(channel));
    for (const handler of this.options.handlers) {
      if (handler.event === JOIN_REPLY) continue;
      channel.on(handler.event, (payload: unknown) => this.runHandler(handler, payload));
    }
    channel
      .join()
      .receive("ok", (reply: unknown) => this.onJoined(reply))
      .receive("error", (reply: unknown) => this.log.warn({ reply: summarize(reply) }, "plugboard refused the join; retrying"))
      .receive("timeout", () => this.log.warn("join timed out; retrying"));
  }

  /**
   * phoenix.js treats phx_close as final and forgets the channel. A consumer is meant to stay
   * joined, so unless we are stopping, an unexpected close means: a new channel, joined again.
   */
  private onChannelClosed(channel: Channel): void {
    this.onChannelLost("channel closed");
    if (this.stopped || this.draining || channel !== this.channel) return;
    this.log.warn("the plugboard closed our channel; joining again");
    const reopen = setTimeout(() => {
      if (!this.stopped && channel === this.channel) this.openChannel();
    }, this.rejoinAfterMs(1));
    reopen.unref();
  }

  get connectionState(): ConnectionState {
    if (this.stopped) return "closed";
    if (this.joined && this.socket.isConnected()) return "joined";
    if (this.socket.isConnected()) return "connected";
    return "connecting";
  }

  get isJoined(): boolean {
    return this.connectionState === "joined";
  }

  /**
   * The graceful way out behind a plugboard that never retries a request elsewhere
   * (docs/protocol.md). Every leave of the channel gives the Vera Plugboard's round-robin defect a
   * chance to throw a request away, so a drain leaves once:
   *
   * 1. leave at once: nothing new is routed here; the leave's reply comes after every request the
   *    plugboard routed here before it;
   * 2. finish those requests (their answers are held: the channel is gone);
   * 3. hand the answers to a replica still joined (`handover`, src/plugboard/handover.ts), which
   *    sends them on its channel: the plugboard matches answers by ref per service;
   * 4. what no replica took in time (none is joined, or no database to hand over through) goes
   *    out in one burst on the socket: join, the answers, leave, written together so that the
   *    plugboard has this replica among its consumers for as short a moment as it can;
   * 5. close.
   */
  async drain(whenIdle: () => Promise<void>, handover?: { give(answers: HandedAnswer[], withinMs: number): Promise<HandedAnswer[]> }): Promise<{ leaves: number; handedOver: number }> {
    this.draining = true;
    // Replicas still joined after this one leaves, as the plugboard last told: none, nobody to hand to.
    const others = (this.state.numConsumers ?? 1) - 1;
    await this.leave();
    await whenIdle();
    // A forced stop overtook the drain: it delivers what is held (stop's deliverWithinMs).
    if (this.stopping) {
      await this.stopping;
      return { leaves: 1, handedOver: 0 };
    }
    const answers = this.answers.takeHeld();
    const mine = handover && others > 0 ? await handover.give(answers, HANDOVER_WITHIN_MS).catch((error: unknown) => {
      this.log.warn({ err: error }, "handing answers to another replica failed; delivering them here");
      return answers;
    }) : answers;
    let leaves = 1;
    if (mine.length > 0) {
      await this.deliverInOneBurst(mine);
      leaves++;
    }
    await this.stop();
    return { leaves, handedOver: answers.length - mine.length };
  }

  /** Whether answers handed over by other replicas can go out here now: joined, and not on the way out. */
  get takesHandedOver(): boolean {
    return this.canSend() && !this.draining;
  }

  /**
   * Delivers answers on a channel joined for the moment: the join, the answers and the leave leave
   * in one write, so the plugboard counts this replica among its consumers only while it reads
   * them. Resolves on the leave's reply (or after leaveTimeoutMs).
   */
  private deliverInOneBurst(answers: HandedAnswer[]): Promise<void> {
    if (!this.socket.isConnected()) return Promise.resolve();
    const joinRef = this.socket.makeRef();
    const leaveRef = this.socket.makeRef();
    const conn = (this.socket as unknown as { conn: WebSocket }).conn;
    const frame = encodedFrames(joinRef, TOPIC.service, EVENT.response);
    const replied = this.untilLeaveReply(leaveRef);
    conn.send(encode({ join_ref: joinRef, ref: joinRef, topic: TOPIC.service, event: PHX.join, payload: {} }, "v2"));
    for (const { ref, text } of answers) conn.send(frame(ref, text));
    conn.send(encode({ join_ref: joinRef, ref: leaveRef, topic: TOPIC.service, event: PHX.leave, payload: {} }, "v2"));
    return replied;
  }

  /** Resolves on the reply to the phx_leave of `ref`, or after leaveTimeoutMs (then `onTimeout` runs first). */
  private untilLeaveReply(ref: string, onTimeout?: () => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.pendingLeave = undefined;
        onTimeout?.();
        resolve();
      }, this.options.leaveTimeoutMs ?? 2_000);
      this.pendingLeave = {
        ref,
        done: () => {
          clearTimeout(timer);
          this.pendingLeave = undefined;
          resolve();
        },
      };
    });
  }

  /**
   * Publishes a new set of actions (the dev loop). The plugboard reads a consumer's actions when
   * it connects, so this leaves and delivers what was routed here, as a drain does, then
   * reconnects with the new set: no request is dropped, none runs twice. Resolves once joined
   * again (or stopped).
   */
  async republish(actionsJson: string, whenIdle: () => Promise<void>): Promise<void> {
    this.actionsJson = actionsJson;
    this.draining = true;
    await this.leave();
    await whenIdle();
    const held = this.answers.takeHeld();
    if (held.length > 0) await this.deliverInOneBurst(held);
    if (this.stopping) return;
    this.reconnectingOnPurpose = true;
    await new Promise<void>((resolve) => this.socket.disconnect(() => resolve(), 1000, "publishing new actions"));
    this.reconnectingOnPurpose = false;
    this.draining = false;
    this.socket.connect();
    await this.joinAgain();
  }

  /**
   * Leaves the channel if joined, then closes the socket. With `deliverWithinMs` (a forced stop),
   * answers still held are first delivered through one last brief join, if it comes in time.
   * Resolves when done; the leave waits leaveTimeoutMs at most.
   */
  stop(options: { deliverWithinMs?: number } = {}): Promise<void> {
    this.stopping ??= (async () => {
      this.draining = true;
      // Nothing waits out its hold any more: what is still joined goes out now, the rest is held.
      this.answers.sendEarlyAnswersNow();
      const { deliverWithinMs } = options;
      if (deliverWithinMs !== undefined && this.answers.heldCount > 0 && !this.joined && this.socket.isConnected()) {
        await Promise.race([this.joinAgain(), delay(deliverWithinMs, undefined, { ref: false })]);
      }
      await this.leave();
      this.stopped = true;
      this.wakeJoinWaiter();
      await new Promise<void>((resolve) => this.socket.disconnect(() => resolve(), 1000, "shutting down"));
    })();
    return this.stopping;
  }

  /**
   * phx_leave, if joined; resolves on its reply or after leaveTimeoutMs. Sent as a frame of our
   * own: phoenix.js's channel.leave() forgets the channel at once, and the requests the plugboard
   * routed here before it saw the leave would then be dropped unread. The channel keeps taking
   * them until the server's phx_close ends it.
   */
  private leave(): Promise<void> {
    if (!this.joined || !this.socket.isConnected()) {
      this.joined = false;
      return Promise.resolve();
    }
    // From here on answers are held: after phx_leave the plugboard no longer knows the topic.
    // A leave of our own is no loss: nothing is resent after the next join.
    this.joined = false;
    const channel = this.channel;
    const ref = this.socket.makeRef();
    // No answer: let phoenix.js forget the channel, so it never rejoins it by itself.
    const replied = this.untilLeaveReply(ref, () => channel.leave(0));
    this.socket.push({ topic: TOPIC.service, event: PHX.leave, payload: {}, ref, join_ref: joinRefOf(channel) });
    return replied;
  }

  /**
   * Joins `service` on a new channel; resolves once joined (and the answers flushed) or stopped.
   * A join already on its way is shared, never doubled.
   */
  private joinAgain(): Promise<void> {
    this.joining ??= new Promise<void>((resolve) => {
      this.joinWaiter = resolve;
      this.openChannel();
    });
    return this.joining;
  }

  private wakeJoinWaiter(): void {
    const wake = this.joinWaiter;
    this.joinWaiter = undefined;
    this.joining = undefined;
    wake?.();
  }

  private canSend(): boolean {
    return this.joined && !this.stopped && this.socket.isConnected();
  }

  /** The answers' frames for the current join (frames.ts encodedFrames), made again when the join changes. */
  private answerFrames: { joinRef: string | null; frame: (ref: string, text: string) => string } | undefined;

  /**
   * Answers go as socket-level frames with the request's ref (channel.push would pick its own),
   * written to the transport directly: canSend() has checked the socket is open, and phoenix.js's
   * push would only encode the frame on the way.
   */
  private sendAnswer(ref: string, text: string): void {
    const joinRef = joinRefOf(this.channel);
    if (this.answerFrames?.joinRef !== joinRef) this.answerFrames = { joinRef, frame: encodedFrames(joinRef, TOPIC.service, EVENT.response) };
    (this.socket as unknown as { conn: WebSocket }).conn.send(this.answerFrames.frame(ref, text));
  }

  /** A ws subclass that remembers why an upgrade was refused (the plugboard sends a bare 403). */
  private transportClass(): unknown {
    const client = this;
    return class PlugboardTransport extends WebSocket {
      private corked = false;

      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { handshakeTimeout: 10_000, maxPayload: 16 * 1024 * 1024 });
        this.on("error", (error: Error) => client.onTransportError(error));
      }

      /**
       * Frames sent in one tick leave in one write: under load, answers finish in bursts, and a
       * syscall per frame was the largest single cost of a cheap request.
       */
      override send(data: Parameters<WebSocket["send"]>[0], optionsOrCallback?: unknown, callback?: unknown): void {
        const raw = (this as unknown as { _socket?: import("node:net").Socket })._socket;
        if (raw && !this.corked) {
          this.corked = true;
          raw.cork();
          process.nextTick(() => {
            this.corked = false;
            raw.uncork();
          });
        }
        (WebSocket.prototype.send as (this: WebSocket, ...args: unknown[]) => void).call(this, data, optionsOrCallback, callback);
      }
    };
  }

  private onTransportError(error: Error): void {
    const refused = REFUSAL.exec(error.message);
    if (!refused) {
      const code = (error as NodeJS.ErrnoException).code;
      this.outage.failed(code ? `${code}: ${error.message}` : error.message);
      return;
    }
    this.refusedStatus = Number(refused[1]);
    this.outage.failed(`HTTP ${this.refusedStatus}`, this.refusedStatus);
  }

  private onOpen(): void {
    if (this.everConnected) this.reconnects++;
    this.refusedStatus = undefined;
    this.lastHeardAt = Date.now();
    if (!this.everConnected) this.log.info("connected to the plugboard");
    this.everConnected = true;
    this.outage.back();
  }

  private onSocketClosed(code: number | undefined): void {
    if (code === CLOSE_CODE.messageTooBig) {
      // Sending that answer again would only close the socket again, and again.
      const bytes = this.answers.frameRefused(this.lastHeardAt);
      this.log.error(
        { close_code: code, refused_bytes: bytes },
        "the plugboard closed the socket: a frame of ours exceeded its size limit; answers this large go out as a 500 from now on (lower MAX_ANSWER_BYTES below the plugboard's limit)",
      );
    }
    // The outage log speaks for a lost socket: one line, then summaries, then one when it is back.
    if (!this.stopped && !this.reconnectingOnPurpose && this.everConnected) this.outage.lost(code === undefined ? "socket closed" : `socket closed (${code})`);
    this.onChannelLost("socket closed", { quiet: true });
  }

  private onChannelLost(reason: string, options: { quiet?: boolean } = {}): void {
    if (!this.joined) return;
    this.joined = false;
    this.lostJoin = true;
    this.lostHeardAt = this.lastHeardAt;
    // A channel lost on a live socket is news; with the socket gone, the outage log speaks.
    if (!this.stopped && !options.quiet && this.socket.isConnected()) this.log.warn({ reason }, "lost the plugboard channel; will rejoin");
  }

  private onJoined(reply: unknown): void {
    this.joined = true;
    this.runHandler(this.handlers.get(JOIN_REPLY), reply);
    if (this.lostJoin) {
      this.lostJoin = false;
      const before = { ...this.answers.stats };
      this.answers.flushAfterRejoin(this.lostHeardAt);
      const { held, resent, expired } = this.answers.stats;
      this.log.info(
        { held: held - before.held, resent: resent - before.resent, expired: expired - before.expired },
        "rejoined: sent the answers held or possibly lost meanwhile",
      );
    } else {
      this.answers.flushAfterRejoin(undefined);
    }
    this.wakeJoinWaiter();
  }

  private decodeFrame(raw: unknown, callback: (message: Message) => void): void {
    if (typeof raw !== "string") {
      this.log.warn("ignored a binary frame: the plugboard sends text frames only");
      return;
    }
    const decoded = decode(raw, "v2");
    if (!decoded.ok) {
      this.log.warn({ problem: decoded.error, bytes: raw.length }, "ignored a malformed frame");
      return;
    }
    const { payload } = decoded.message;
    // phoenix.js reads payload.status and friends: a non-object payload would throw inside it.
    if (!isJsonObject(payload)) {
      this.log.warn({ event: decoded.message.event, topic: decoded.message.topic }, "ignored a frame whose payload is not an object");
      return;
    }
    this.lastHeardAt = Date.now();
    // Read by the request handler during the callback below (a request's size, for MAX_REQUEST_BYTES).
    this.frameBytes = Buffer.byteLength(raw, "utf8");
    try {
      callback(decoded.message);
    } catch (error) {
      this.log.warn({ err: error, event: decoded.message.event }, "a frame could not be handled");
    }
  }

  private onMessage(message: Message): void {
    if (this.pendingLeave && message.event === PHX.reply && message.ref === this.pendingLeave.ref) this.pendingLeave.done();
    if (message.topic !== TOPIC.service || this.handlers.has(message.event)) return;
    if (Object.values(PHX).includes(message.event as never)) return;
    this.log.debug({ event: message.event }, "ignored an unknown plugboard event");
  }

  private runHandler(handler: EventHandler | undefined, payload: unknown): void {
    if (!handler) return;
    const parsed = handler.schema.safeParse(payload);
    if (!parsed.success) {
      this.log.warn(
        { event: handler.event, problems: parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`) },
        "ignored a malformed event payload",
      );
      return;
    }
    try {
      handler.handle(parsed.data, this.eventContext());
    } catch (error) {
      this.log.error({ err: error, event: handler.event }, "event handler failed");
    }
  }

  /** UTF-8 size of the frame being handled. */
  private frameBytes = 0;
  private context: EventContext | undefined;
  private eventContext(): EventContext {
    const client = this;
    this.context ??= {
      get frameBytes() {
        return client.frameBytes;
      },
      log: this.log,
      state: this.state,
      answers: this.answers,
      dispatch: this.options.dispatch,
      stop: (reason, exitCode) => this.options.onFatal(reason, exitCode),
    };
    return this.context;
  }
}

/** The current join's ref (phoenix.js has it; its type declarations lag behind). */
function joinRefOf(channel: Channel): string | null {
  return (channel as unknown as { joinRef(): string | null }).joinRef();
}

function summarize(reply: unknown): unknown {
  if (typeof reply !== "object" || reply === null) return reply;
  const { reason } = reply as { reason?: unknown };
  return reason === undefined ? "(no reason)" : reason;
}
