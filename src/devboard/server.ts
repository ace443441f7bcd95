/**
 * The dev plugboard: a Phoenix-protocol server that plays the Vera Plugboard's consumer socket
 * (docs/protocol.md) and its HTTP side. It is the project's test server and the local dev server,
 * so besides the protocol it offers a frame log and waiting for events without sleeping; its
 * fault injection (crash a channel, drop sockets, push any event, stop answering heartbeats) is
 * `board.faults` (src/devboard/faults.ts).
 */
import { setTimeout as delay } from "node:timers/promises";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { createLogger, type Logger } from "../ops/logger.ts";
import { CLOSE_CODE, EVENT, PLUGBOARD_REQUEST_TIMEOUT_MS, SERVER_IDLE_TIMEOUT_MS, SOCKET_PARAM, SOCKET_PATH } from "../plugboard/wire.ts";
import { ConsumerConnection, type Admission, type ConnectionHost, type ConsumerInfo, type UnjoinReason } from "./connection.ts";
import { renderExplorer } from "./explorer.ts";
import type { RecentEvent } from "../domain-events/recent.ts";
import { DevPlugboardFaults } from "./faults.ts";
import { FrameLog, type FrameRecord } from "./frame-log.ts";
import { makeIdentity, serviceIdFor, type Identity, type ServiceRecord } from "./identity.ts";
import { checkHandshake, sameJson, sameToken, type AcceptedHandshake, type ActionsObject } from "./handshake.ts";
import { handleHttp, type HttpApi } from "./http-api.ts";
import { AllowedHosts } from "./allowed-hosts.ts";
import { errorAnswer, fullAnswer, RequestRouter, type HttpAnswer } from "./router.ts";
import { answerInMode, veraAnswer, VERA_HTTP_MESSAGE, type HttpMode, type ModeAnswers } from "./vera.ts";
import { ConditionWaiters, waitForEvent } from "./wait.ts";

export type { ConsumerInfo, UnjoinReason } from "./connection.ts";
export type { FrameRecord } from "./frame-log.ts";
export type { HttpAnswer } from "./router.ts";
export type { Identity, ServiceRecord, TokenRecord } from "./identity.ts";
export type { HttpMode, ModeAnswers } from "./vera.ts";

export interface DevPlugboardOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the board has no authentication besides its token. */
  host?: string;
  /** The token consumers must present; random hex when absent. */
  token?: string;
  /**
   * The account API token callers of the real-shaped `POST /` (`{service_id, action, fields}`)
   * must send as `Authorization: Bearer …`; random hex when absent. A dev secret of this board only.
   */
  accountToken?: string;
  /**
   * What `POST /` answers with a consumer's payload: `full` (the default) its status_code and the
   * whole payload; `vera` what the Vera Plugboard answers (200/400/502 with `{status, message}`).
   */
  httpMode?: HttpMode;
  /** How long a caller waits for an answer before 408; default 30 s like the Vera Plugboard. */
  requestTimeoutMs?: number;
  /**
   * How long a routed request takes to reach its consumer's channel (default 0). With more, the
   * board loses requests routed to a channel that leaves or dies within that time, as the Vera
   * Plugboard does: for measuring what a drain or a drop really costs.
   */
  transitMs?: number;
  /** A socket that sends nothing for this long is closed; default 60 s like Phoenix. */
  idleTimeoutMs?: number;
  /**
   * Further names the HTTP side answers to besides 127.0.0.1, localhost, [::1] and a non-wildcard
   * `host`, e.g. a compose service name; `name` means the board's port, `name:port` that port.
   */
  allowedHosts?: readonly string[];
  /** How long a client has to send a request's headers; default 10 s. */
  headersTimeoutMs?: number;
  /** How long a client has to send a whole request, body included (not the wait for the answer); default 15 s. */
  receiveTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open; default 2 s. */
  keepAliveTimeoutMs?: number;
  /**
   * The largest WebSocket frame accepted from a consumer, in bytes (ws's `maxPayload`); a larger
   * one closes the socket with 1009, as a plugboard with a frame limit does. Default 16 MiB.
   */
  maxFrameBytes?: number;
  log?: Logger;
  service?: { id: string; name: string };
  /**
   * Further services the board hosts, each joined with its own token (PLUGBOARD_SERVICES): so
   * several services can run, and call each other through `POST /`, on one local board. An id
   * left out is the same for a name on every start (serviceIdFor).
   */
  services?: ReadonlyArray<{ name: string; token: string; id?: string }>;
}

/** A service the board hosts: who its consumers are told they are, their token, their callers. */
interface HostedService {
  identity: Identity;
  token: string;
  router: RequestRouter;
}

/** A hosted service as tests and the explorer see it. */
export interface HostedServiceInfo {
  id: string;
  name: string;
  joinedConsumers: number;
  actions: ActionsObject | null;
}

export interface LeaveEvent {
  consumer: ConsumerInfo;
  reason: UnjoinReason;
}

export interface DisconnectEvent {
  consumer: ConsumerInfo;
  code: number;
  reason: string;
}

export interface RefusedEvent {
  reason: string;
  path: string;
}

export interface BoardEvents {
  connect: [ConsumerInfo];
  join: [ConsumerInfo];
  leave: [LeaveEvent];
  frame: [FrameRecord];
  refused: [RefusedEvent];
  disconnect: [DisconnectEvent];
}

export type BoardEventName = keyof BoardEvents;

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_WAIT_MS = 5_000;
/** What callers still waiting get when the board stops. */
const BOARD_STOPPED_MESSAGE = "The dev plugboard stopped";
/** How long stop() lets consumers answer the close handshake before cutting them off. */
const CLOSE_GRACE_MS = 1_000;
/** Short HTTP timeouts: a local board has no slow clients, and stalled uploads must not pile up. */
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
const DEFAULT_RECEIVE_TIMEOUT_MS = 15_000;
const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 2_000;
/** The same limit the consumer's client puts on the frames it receives. */
const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** ws's error code for a frame above `maxPayload`, and the close code it sends for it. */
const FRAME_TOO_BIG_ERROR = "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
const MESSAGE_TOO_BIG = 1009;

/** The HTTP server with the board's timeouts. */
function createHttpServer(options: DevPlugboardOptions, onRequest: RequestListener): Server {
  const requestTimeout = options.receiveTimeoutMs ?? DEFAULT_RECEIVE_TIMEOUT_MS;
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeout);
  const server = createServer(
    {
      headersTimeout,
      requestTimeout,
      // Node enforces both timeouts only when it checks, every 30 s by default: check often enough.
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(headersTimeout / 4))),
      // A request without Host gets the board's own 403 (http-api.ts) rather than Node's bare 400.
      requireHostHeader: false,
    },
    onRequest,
  );
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS;
  return server;
}

function silentLogger(): Logger {
  return createLogger({ level: "silent", destination: { write: () => undefined } });
}

/** Answers an upgrade request without upgrading: a bare status line, no body. */
function refuseUpgrade(socket: Duplex, status: 403 | 404 | 503): void {
  const text = { 403: "Forbidden", 404: "Not Found", 503: "Service Unavailable" }[status];
  socket.once("finish", () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

export class DevPlugboard extends EventEmitter<BoardEvents> {
  readonly host: string;
  readonly token: string;
  readonly accountToken: string;
  readonly httpMode: HttpMode;
  private boundPort = 0;
  private readonly options: DevPlugboardOptions;
  private readonly log: Logger;
  /** The board's first service (`token`, `service`); the others follow (`services`, addService). */
  private readonly hosted: HostedService[] = [];
  private readonly serviceOf = new WeakMap<ConsumerConnection, HostedService>();
  private readonly server: Server;
  private readonly sockets: WebSocketServer;
  /** Known once the board listens (the port may be 0 until then). */
  private allowedHosts: AllowedHosts | undefined;
  private readonly connections = new Map<string, ConsumerConnection>();
  /** Consumers ws closed with 1009 for a frame above maxFrameBytes. */
  private readonly closedForSize = new Set<string>();
  private readonly frameLog = new FrameLog();
  private readonly conditions = new ConditionWaiters();
  private heartbeatReplies = true;
  private faultHooks: DevPlugboardFaults | undefined;
  private nextConsumer = 1;
  private stopping: Promise<void> | undefined;
  private eventsFeed: (() => Promise<readonly RecentEvent[]>) | undefined;

  /** The board as its connections see it. */
  private readonly connectionHost: ConnectionHost = {
    answersHeartbeats: () => this.heartbeatReplies,
    admit: (connection) => this.admit(connection),
    joined: (connection) => this.onJoined(connection),
    unjoined: (connection, reason) => this.onUnjoined(connection, reason),
    answered: (connection, ref, payload) => void this.serviceOf.get(connection)?.router.answer(ref, payload),
    frame: (direction, connection, text) => this.onFrame(direction, connection, text),
    undecodable: (connection, error) => this.log.warn({ consumer: connection.id, error }, "undecodable frame: closing the socket"),
    closed: (connection, code, reason) => this.onClosed(connection, code, reason),
  };

  /** Starts a board listening on `options.port` (0: a free port). */
  static async start(options: DevPlugboardOptions = {}): Promise<DevPlugboard> {
    const board = new DevPlugboard(options);
    await board.listen(options.port ?? 0);
    return board;
  }

  private constructor(options: DevPlugboardOptions) {
    super();
    // Tests await many events at once; the default limit of 10 would only warn.
    this.setMaxListeners(0);
    this.options = options;
    this.host = options.host ?? DEFAULT_HOST;
    this.token = options.token ?? randomBytes(24).toString("hex");
    this.accountToken = options.accountToken ?? randomBytes(24).toString("hex");
    this.httpMode = options.httpMode ?? "full";
    this.log = options.log ?? silentLogger();
    this.hostService(makeIdentity(options.service), this.token);
    for (const service of options.services ?? []) this.addService(service);
    this.sockets = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES });
    const api: HttpApi = {
      call: (action, fields, serviceId) => this.requestTo(serviceId ?? this.identity.service.id, action, fields),
      explore: (action, fields) => this.requestInBothModes(action, fields),
      credentials: () => ({ accountToken: this.accountToken, serviceIds: this.hosted.map((h) => h.identity.service.id) }),
      publishedActions: (serviceId) => this.publishedActions(serviceId),
      explorerPage: () => this.explorerPage(),
      hosts: () => this.allowedHosts!,
      log: this.log,
    };
    this.server = createHttpServer(options, (req, res) => void handleHttp(api, req, res));
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  get port(): number {
    return this.boundPort;
  }

  /** http://host:port — the HTTP side: POST / and the explorer. */
  get url(): string {
    return `http://${this.authority}`;
  }

  /** ws://host:port/websocket — the full socket URL (WEBSOCKET_URL). */
  get socketUrl(): string {
    return `ws://${this.authority}${SOCKET_PATH}`;
  }

  /** ws://host:port — what the phoenix client wants: it appends /websocket itself. */
  get endpoint(): string {
    return `ws://${this.authority}`;
  }

  /** The first service's identity: the one `token` joins. */
  private get identity(): Identity {
    return this.hosted[0]!.identity;
  }

  private hostService(identity: Identity, token: string): void {
    const service: HostedService = {
      identity,
      token,
      router: new RequestRouter({
        joined: () => this.joinedConnections(service),
        timeoutMs: this.options.requestTimeoutMs ?? PLUGBOARD_REQUEST_TIMEOUT_MS,
        transitMs: this.options.transitMs,
        log: this.log,
      }),
    };
    this.hosted.push(service);
  }

  private hostedById(serviceId: string): HostedService | undefined {
    return this.hosted.find((h) => h.identity.service.id === serviceId);
  }

  /** The service whose token a connect presents (compared in constant time), or the first one (whose check then refuses it). */
  private hostedByToken(url: URL): HostedService {
    const given = url.searchParams.get(SOCKET_PARAM.token);
    return (given !== null ? this.hosted.find((h) => sameToken(given, h.token)) : undefined) ?? this.hosted[0]!;
  }

  /** The service the join reply describes. */
  get service(): ServiceRecord {
    return { ...this.identity.service };
  }

  /** The last frames in and out (bounded). */
  get frames(): readonly FrameRecord[] {
    return this.frameLog.all;
  }

  clearFrames(): void {
    this.frameLog.clear();
  }

  consumers(): ConsumerInfo[] {
    return [...this.connections.values()].map((c) => c.info());
  }

  /** The `actions` the joined consumers of a service (default: the first) published, or null when none is joined. */
  publishedActions(serviceId?: string): ActionsObject | null {
    const service = serviceId === undefined ? this.hosted[0] : this.hostedById(serviceId);
    const first = service ? this.joinedConnections(service)[0] : undefined;
    return first ? structuredClone(first.actions) : null;
  }

  /** Exactly what `POST /` does with `{action, fields}`: the answer in the board's httpMode. */
  request(action: string, fields: unknown, options: { timeoutMs?: number } = {}): Promise<HttpAnswer> {
    return this.requestTo(this.identity.service.id, action, fields, options);
  }

  /** What `POST /` does with `{service_id, action, fields}`; an id the board does not host gets 403, as a service the token may not call. */
  async requestTo(serviceId: string, action: string, fields: unknown, options: { timeoutMs?: number } = {}): Promise<HttpAnswer> {
    const service = this.hostedById(serviceId);
    if (!service) return errorAnswer(403, VERA_HTTP_MESSAGE.forbidden);
    const result = await service.router.route(action, fields, options.timeoutMs);
    return result.answered ? answerInMode(this.httpMode, result.payload) : result.answer;
  }

  /**
   * Hosts one more service: consumers joining with `token` are its consumers, and `POST /` with
   * its id reaches them. Returns its id and token (a random one when not given).
   */
  addService(service: { name: string; token?: string; id?: string }): { id: string; name: string; token: string } {
    const token = service.token ?? randomBytes(24).toString("hex");
    if (this.hosted.some((h) => h.token === token)) throw new Error(`the dev plugboard already hosts a service with that token`);
    const id = service.id ?? serviceIdFor(service.name);
    if (this.hostedById(id)) throw new Error(`the dev plugboard already hosts a service with id ${id}`);
    this.hostService(makeIdentity({ id, name: service.name }), token);
    return { id, name: service.name, token };
  }

  /** Every service the board hosts, the first one first. */
  services(): HostedServiceInfo[] {
    return this.hosted.map((h) => ({
      id: h.identity.service.id,
      name: h.identity.service.name,
      joinedConsumers: this.joinedConnections(h).length,
      actions: this.publishedActions(h.identity.service.id),
    }));
  }

  /** One call, answered in both modes (what the explorer shows); the board's own errors are the same in both. */
  async requestInBothModes(action: string, fields: unknown, options: { timeoutMs?: number } = {}): Promise<ModeAnswers> {
    const result = await this.hosted[0]!.router.route(action, fields, options.timeoutMs);
    if (!result.answered) return { mode: this.httpMode, full: result.answer, vera: result.answer };
    return { mode: this.httpMode, full: fullAnswer(result.payload), vera: veraAnswer(result.payload) };
  }

  /**
   * A curl command calling `action` the way the Vera Plugboard is called: with the board's
   * service id and its dev account token (which it contains: print it in dev mode only).
   */
  curlExample(call: { action: string; fields: Record<string, unknown> } = { action: "ACTION", fields: {} }): string {
    const body = JSON.stringify({ service_id: this.identity.service.id, action: call.action, fields: call.fields });
    // A token the board was given (PLUGBOARD_API_TOKEN) is a caller's secret: named, never printed.
    const token = this.options.accountToken === undefined ? this.accountToken : "'\"$PLUGBOARD_API_TOKEN\"'";
    return `curl -s ${this.url}/ -H 'content-type: application/json' -H 'authorization: Bearer ${token}' -d '${body.replace(/'/g, "'\\''")}'`;
  }

  /** Fault injection for tests and the soak (src/devboard/faults.ts). */
  get faults(): DevPlugboardFaults {
    this.faultHooks ??= new DevPlugboardFaults({
      select: (consumerId) => this.select(consumerId),
      routers: () => this.hosted.map((h) => h.router),
      answerHeartbeats: (enabled) => (this.heartbeatReplies = enabled),
    });
    return this.faultHooks;
  }

  /**
   * Waits for an event (optionally one passing `filter`) and resolves with its argument, or
   * until `predicate()` holds, re-checked after every board event. Rejects after `timeoutMs`.
   */
  waitFor<K extends BoardEventName>(event: K, timeoutMs?: number, filter?: (...args: BoardEvents[K]) => boolean): Promise<BoardEvents[K][0]>;
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  waitFor(target: BoardEventName | (() => boolean), timeoutMs = DEFAULT_WAIT_MS, filter?: (...args: never[]) => boolean): Promise<unknown> {
    if (typeof target === "function") return this.conditions.until(target, timeoutMs);
    return waitForEvent(this as EventEmitter, target, timeoutMs, filter as ((...args: unknown[]) => boolean) | undefined);
  }

  /** Closes every socket and the listener; callers still waiting get 503. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private get authority(): string {
    const host = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `${host}:${this.boundPort}`;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ port, host: this.host }, () => {
        this.server.off("error", reject);
        this.boundPort = (this.server.address() as AddressInfo).port;
        this.allowedHosts = new AllowedHosts(this.host, this.boundPort, this.options.allowedHosts);
        this.log.debug({ port: this.boundPort, host: this.host }, "dev plugboard listening");
        resolve();
      });
    });
  }

  /** The explorer lists these (the service running with this board passes its latest events, src/app.ts). */
  showEvents(feed: () => Promise<readonly RecentEvent[]>): void {
    this.eventsFeed = feed;
  }

  private async explorerPage(): Promise<string> {
    // A failing read leaves the section out rather than the page.
    const events = await this.eventsFeed?.().catch((error: unknown) => {
      this.log.warn({ err: error }, "explorer: reading the latest events failed");
      return undefined;
    });
    return renderExplorer({
      ...(events ? { events } : {}),
      otherServices: this.services().slice(1),
      actions: this.publishedActions(),
      serviceName: this.identity.service.name,
      socketUrl: this.socketUrl,
      joinedConsumers: this.joinedConnections().length,
      httpMode: this.httpMode,
      serviceId: this.identity.service.id,
    });
  }

  /** The joined consumers of a service (default: the first). */
  private joinedConnections(service: HostedService = this.hosted[0]!): ConsumerConnection[] {
    return [...this.connections.values()].filter((c) => c.joined && this.serviceOf.get(c) === service);
  }

  private select(consumerId: string | undefined): ConsumerConnection[] {
    if (consumerId === undefined) return [...this.connections.values()];
    const connection = this.connections.get(consumerId);
    if (!connection) throw new Error(`no connected consumer ${consumerId}`);
    return [connection];
  }

  private announce<K extends BoardEventName>(event: K, ...args: BoardEvents[K]): void {
    (this.emit as (event: K, ...args: BoardEvents[K]) => boolean)(event, ...args);
    this.conditions.check();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client that vanishes mid-handshake must not take the board down.
    socket.on("error", () => undefined);
    const url = new URL(req.url ?? "/", "http://devboard");
    if (url.pathname !== SOCKET_PATH) return refuseUpgrade(socket, 404);
    if (this.stopping) return refuseUpgrade(socket, 503);
    // Consumers (Node) send no Origin; a browser always does. A page must not join as a consumer
    // and read the requests (passwords included), even one that knows a fixed TOKEN.
    const origin = req.headers.origin;
    if (origin !== undefined && !this.allowedHosts!.admitsOrigin(origin)) {
      this.log.info({ reason: "foreign origin" }, "connect refused with 403");
      this.announce("refused", { reason: "foreign origin", path: url.pathname });
      return refuseUpgrade(socket, 403);
    }
    const service = this.hostedByToken(url);
    const handshake = checkHandshake(url, service.token, this.publishedActions(service.identity.service.id));
    if (!handshake.ok) {
      this.log.info({ reason: handshake.reason }, "connect refused with 403");
      this.announce("refused", { reason: handshake.reason, path: url.pathname });
      return refuseUpgrade(socket, 403);
    }
    this.sockets.handleUpgrade(req, socket, head, (ws) => this.accept(ws, handshake, service));
  }

  private accept(socket: WebSocket, handshake: AcceptedHandshake, service: HostedService): void {
    const id = `consumer-${this.nextConsumer++}`;
    socket.once("error", (error: Error & { code?: string }) => {
      if (error.code === FRAME_TOO_BIG_ERROR) this.closedForSize.add(id);
    });
    const connection = new ConsumerConnection({
      id,
      socket,
      handshake,
      host: this.connectionHost,
      idleTimeoutMs: this.options.idleTimeoutMs ?? SERVER_IDLE_TIMEOUT_MS,
    });
    this.connections.set(id, connection);
    this.serviceOf.set(connection, service);
    this.log.info({ consumer: id, serializer: handshake.serializer, hosted_service: service.identity.service.name }, "consumer connected");
    this.announce("connect", connection.info());
  }

  private admit(connection: ConsumerConnection): Admission {
    const service = this.serviceOf.get(connection)!;
    const others = this.joinedConnections(service).filter((c) => c !== connection);
    // Connect already compared actions, but two sockets may have connected before either joined.
    if (others[0] && !sameJson(connection.actions, others[0].actions)) {
      return { ok: false, reason: "actions differ from the consumers already joined" };
    }
    return { ok: true, response: { ...service.identity, num_consumers: others.length + 1 } };
  }

  private broadcastNumConsumers(except: ConsumerConnection): void {
    const joined = this.joinedConnections(this.serviceOf.get(except));
    for (const consumer of joined) {
      if (consumer !== except) consumer.push(EVENT.numConsumers, { num_consumers: joined.length });
    }
  }

  private onJoined(connection: ConsumerConnection): void {
    this.log.info({ consumer: connection.id, join_ref: connection.joinRef }, "consumer joined");
    this.broadcastNumConsumers(connection);
    this.announce("join", connection.info());
  }

  private onUnjoined(connection: ConsumerConnection, reason: UnjoinReason): void {
    this.log.info({ consumer: connection.id, reason }, "consumer no longer joined");
    this.broadcastNumConsumers(connection);
    this.announce("leave", { consumer: connection.info(), reason });
  }

  private onFrame(direction: "in" | "out", connection: ConsumerConnection, text: string): void {
    const record: FrameRecord = { direction, consumerId: connection.id, text, at: new Date() };
    this.frameLog.add(record);
    this.log.trace({ consumer: connection.id, direction }, "frame");
    this.announce("frame", record);
  }

  private onClosed(connection: ConsumerConnection, closeCode: number, reason: string): void {
    // ws sends 1009 for an oversized frame but stops reading, so its close event says 1006: report what the board sent.
    const code = this.closedForSize.delete(connection.id) ? MESSAGE_TOO_BIG : closeCode;
    this.connections.delete(connection.id);
    this.log.info({ consumer: connection.id, code }, "consumer disconnected");
    this.announce("disconnect", { consumer: connection.info(), code, reason });
  }

  private async shutdown(): Promise<void> {
    for (const service of this.hosted) service.router.failAll(503, BOARD_STOPPED_MESSAGE);
    // Let the HTTP handlers write those answers before their sockets are closed.
    await new Promise((resolve) => setImmediate(resolve));
    const open = [...this.connections.values()];
    for (const consumer of open) consumer.close(CLOSE_CODE.goingAway);
    const allClosed = Promise.all(open.map((c) => c.closed));
    await Promise.race([allClosed, delay(CLOSE_GRACE_MS, undefined, { ref: false })]);
    for (const consumer of this.connections.values()) consumer.terminate();
    await allClosed;
    this.sockets.close();
    const listenerClosed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeAllConnections();
    await listenerClosed;
    this.log.debug({ port: this.boundPort }, "dev plugboard stopped");
  }
}

/** The board of dev mode: it hosts the service under its own name, with the id that name always gets. */
export function startDevPlugboard(serviceName: string, options: Omit<DevPlugboardOptions, "service">): Promise<DevPlugboard> {
  return DevPlugboard.start({ ...options, service: { id: serviceIdFor(serviceName), name: serviceName } });
}
