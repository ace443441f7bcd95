/**
 * The dev plugboard's tests' tools (tests/devboard-*.test.ts): a raw `ws` client that speaks V2
 * or V1 and waits for frames, connect refusals, POST /, and boards started per suite or per test.
 */
import { once } from "node:events";
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { decode, encode, type Message, type Serializer } from "../../src/plugboard/frames.ts";
import { EVENT, PHX, SOCKET_PARAM, TOPIC, VSN_V2 } from "../../src/plugboard/wire.ts";
import { DevPlugboard, type DevPlugboardOptions } from "../../src/devboard/server.ts";

export const ACTIONS = {
  Echo: {
    description: "Echoes its fields <b>back</b>",
    fields: {
      name: { type: "string", description: "Who", minLength: 2, maxLength: 10 },
      count: { type: "integer", minimum: 1, default: 3 },
      mood: { type: "string", enum: ["calm", "loud"] },
      loud: { type: "boolean" },
    },
    required: ["name"],
  },
  Login: { description: "Logs in", fields: { password: { type: "string" } }, required: ["password"] },
};
/** The same object with every key order reversed. */
export const ACTIONS_REORDERED = {
  Login: { required: ["password"], fields: { password: { type: "string" } }, description: "Logs in" },
  Echo: {
    required: ["name"],
    fields: {
      loud: { type: "boolean" },
      mood: { enum: ["calm", "loud"], type: "string" },
      count: { default: 3, minimum: 1, type: "integer" },
      name: { maxLength: 10, minLength: 2, description: "Who", type: "string" },
    },
    description: "Echoes its fields <b>back</b>",
  },
};

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
export const FRAME_WAIT_MS = 3_000;

export interface ConnectParams {
  token?: string | null;
  actions?: unknown;
  vsn?: string | null;
}

export function socketUrl(board: DevPlugboard, params: ConnectParams = {}): string {
  const query = new URLSearchParams();
  const token = params.token === undefined ? board.token : params.token;
  if (token !== null) query.set(SOCKET_PARAM.token, token);
  if (params.actions !== null) query.set(SOCKET_PARAM.actions, JSON.stringify(params.actions ?? ACTIONS));
  const vsn = params.vsn === undefined ? VSN_V2 : params.vsn;
  if (vsn !== null) query.set(SOCKET_PARAM.vsn, vsn);
  return `${board.socketUrl}?${query}`;
}

export interface Inbound {
  text: string;
  message: Message;
}

export type Matcher = (message: Message) => boolean;

/** A consumer written by hand: every frame is visible, nothing is automatic unless asked. */
export class RawClient {
  private readonly inbox: Inbound[] = [];
  private readonly waiters = new Set<{ match: Matcher; deliver: (inbound: Inbound) => void }>();
  private refs = 0;
  private requestHandler: ((payload: Record<string, unknown>, push: Message) => unknown) | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    readonly serializer: Serializer,
  ) {
    ws.on("message", (data) => this.receive(String(data)));
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static async connect(board: DevPlugboard, params: ConnectParams = {}): Promise<RawClient> {
    const ws = new WebSocket(socketUrl(board, params));
    const client = new RawClient(ws, params.vsn === null ? "v1" : "v2");
    await once(ws, "open");
    return client;
  }

  nextRef(): string {
    return String(++this.refs);
  }

  send(message: Partial<Message> & { topic: string; event: string }): void {
    this.ws.send(encode({ join_ref: null, ref: null, payload: {}, ...message }, this.serializer));
  }

  /** The oldest unread frame matching `match`, waiting for it if needed. */
  next(match: Matcher = () => true, timeoutMs = FRAME_WAIT_MS): Promise<Inbound> {
    const index = this.inbox.findIndex((inbound) => match(inbound.message));
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        deliver: (inbound: Inbound) => {
          clearTimeout(timer);
          resolve(inbound);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; unread: ${JSON.stringify(this.inbox.map((i) => i.text))}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Sends a frame and returns the reply to its ref. */
  async call(topic: string, event: string, payload: unknown = {}, joinRef: string | null = null): Promise<Message> {
    const ref = this.nextRef();
    this.send({ join_ref: joinRef, ref, topic, event, payload });
    return (await this.next((m) => m.event === PHX.reply && m.ref === ref)).message;
  }

  /** Joins `service` like phoenix.js (ref == join_ref); returns the reply and the join_ref. */
  async join(topic: string = TOPIC.service): Promise<{ reply: Message; joinRef: string }> {
    const joinRef = this.nextRef();
    this.send({ join_ref: joinRef, ref: joinRef, topic, event: PHX.join, payload: {} });
    const reply = (await this.next((m) => m.event === PHX.reply && m.ref === joinRef)).message;
    return { reply, joinRef };
  }

  /**
   * Every frame received before the answer to a fresh heartbeat. The board handles a socket's
   * frames in order, so whatever it would send for earlier frames arrives before that answer.
   */
  async drain(): Promise<Inbound[]> {
    const ref = this.nextRef();
    this.send({ topic: TOPIC.phoenix, event: PHX.heartbeat, ref });
    await this.next((m) => m.topic === TOPIC.phoenix && m.ref === ref);
    return this.inbox.splice(0);
  }

  /** Answers every `request` push with `answer(payload)` on the frame's response_ref. */
  serve(answer: (payload: Record<string, unknown>, push: Message) => unknown): void {
    this.requestHandler = answer;
  }

  respond(joinRef: string | null, responseRef: string, payload: unknown): void {
    this.send({ join_ref: joinRef, ref: responseRef, topic: TOPIC.service, event: EVENT.response, payload });
  }

  close(): Promise<unknown> {
    this.ws.close();
    return this.closed;
  }

  private receive(text: string): void {
    const decoded = decode(text, this.serializer);
    assert.ok(decoded.ok, `the board sent an undecodable frame: ${text}`);
    const inbound = { text, message: decoded.message };
    if (this.requestHandler && inbound.message.event === EVENT.request) {
      const payload = inbound.message.payload as Record<string, unknown>;
      this.respond(inbound.message.join_ref, String(payload.response_ref), this.requestHandler(payload, inbound.message));
      return;
    }
    for (const waiter of this.waiters) {
      if (!waiter.match(inbound.message)) continue;
      this.waiters.delete(waiter);
      return waiter.deliver(inbound);
    }
    this.inbox.push(inbound);
  }
}

/** Tries to connect and returns the HTTP refusal the board answered with. */
export function refusal(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("error", () => undefined);
    ws.on("open", () => {
      ws.close();
      reject(new Error("the board accepted the connection"));
    });
    ws.on("unexpected-response", (req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += String(chunk)));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body });
        req.destroy();
      });
    });
  });
}

export async function post(board: DevPlugboard, body: unknown, raw = false): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${board.url}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ? String(body) : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
}

export async function joinedClient(board: DevPlugboard, params: ConnectParams = {}): Promise<{ client: RawClient; joinRef: string }> {
  const client = await RawClient.connect(board, params);
  const { joinRef } = await client.join();
  return { client, joinRef };
}

export function useBoard(options: DevPlugboardOptions = {}): () => DevPlugboard {
  let board: DevPlugboard | undefined;
  before(async () => {
    board = await DevPlugboard.start(options);
  });
  after(async () => {
    await board?.stop();
  });
  return () => board!;
}

/** Runs `body` against a fresh board, stopped afterwards whatever happens. */
export async function withBoard(options: DevPlugboardOptions, body: (board: DevPlugboard) => Promise<void>): Promise<void> {
  const board = await DevPlugboard.start(options);
  try {
    await body(board);
  } finally {
    await board.stop();
  }
}
