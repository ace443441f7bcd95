/**
 * The dev plugboard's plain HTTP side: `POST /` calls an action, `GET /` serves the action
 * explorer, `POST /explore` is the explorer's call (the answer in both HTTP modes), `GET /actions`
 * the published schemas. WebSocket upgrades never reach this handler.
 *
 * `POST /` takes two shapes: the dev one, `{action, fields}` without credentials, and the Vera
 * Plugboard's, `{service_id, action, fields}` with `Authorization: Bearer <account token>`. A
 * request naming a `service_id` or carrying `Authorization` is judged as the real one (vera.ts).
 *
 * Any web page a developer visits can send requests to 127.0.0.1, so cross-site calls are
 * refused: every request must name the board in `Host` (DNS rebinding), and `POST /` must be
 * `application/json` (which a page can only send cross-site after a CORS preflight the board
 * never grants) from no `Origin` or the board's own.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Logger } from "../ops/logger.ts";
import { SOCKET_PATH } from "../plugboard/wire.ts";
import { EXPLORER_CONTENT_SECURITY_POLICY, EXPLORE_PATH } from "./explorer.ts";
import { isJsonObject } from "../json.ts";
import { errorAnswer, type HttpAnswer } from "./router.ts";
import { isVeraRequest, judgeVeraRequest, type ModeAnswers, type VeraCall, type VeraCredentials } from "./vera.ts";
import type { AllowedHosts } from "./allowed-hosts.ts";

/** Bodies above this size are refused with 413: action fields are small. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpApi {
  /** A call to `serviceId` (default: the board's first service). */
  call(action: string, fields: unknown, serviceId?: string): Promise<HttpAnswer>;
  /** The same call, answered in both HTTP modes (the explorer's `POST /explore`). */
  explore(action: string, fields: unknown): Promise<ModeAnswers>;
  /** What a real-shaped request must carry. */
  credentials(): VeraCredentials;
  /** What the joined consumers of `serviceId` (default: the first service) published. */
  publishedActions(serviceId?: string): unknown;
  explorerPage(): Promise<string>;
  /** The names the board answers to; known once it listens. */
  hosts(): AllowedHosts;
  log: Logger;
}

class BodyTooLarge extends Error {}

const BAD_BODY = 'The body must be a JSON object with a string "action" and optional "fields"';

/** `application/json`, with or without parameters such as `; charset=utf-8`. */
const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/i;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) ?? "null";
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { status: "error", message });
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { "content-length": 0 });
  res.end();
}

/**
 * Collects the body up to `limit` bytes. Listeners rather than for-await: leaving a for-await
 * early destroys the request and its socket before the 413 could be sent.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"] ?? 0) > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off("data", onData).off("end", onEnd);
      reject(new BodyTooLarge());
    }
    function onEnd(): void {
      resolve(Buffer.concat(chunks));
    }
    req.on("data", onData).on("end", onEnd).on("error", reject);
  });
}

/** The JSON object a POST body holds, or null. */
function parseObject(body: Buffer): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  return isJsonObject(parsed) ? parsed : null;
}

/** The call a POST body asks for, in either shape, or the answer that refuses it. */
function parseCall(api: HttpApi, req: IncomingMessage, body: Buffer): VeraCall {
  const parsed = parseObject(body);
  const bad: VeraCall = { ok: false, answer: errorAnswer(400, BAD_BODY) };
  if (!parsed) return bad;
  if (isVeraRequest(parsed, req.headers)) return judgeVeraRequest(parsed, req.headers.authorization, api.credentials());
  if (typeof parsed.action !== "string") return bad;
  // The Vera Plugboard forwards whatever the caller posted; an absent `fields` arrives as null.
  return { ok: true, action: parsed.action, fields: parsed.fields ?? null };
}

/** An answer with its reason phrase, for the explorer's status lines. */
const described = (answer: HttpAnswer) => ({ status: answer.status, text: STATUS_CODES[answer.status] ?? "", body: answer.body });

/**
 * Why a `POST /` must not be read, or null. A foreign Origin is a page elsewhere calling; a body
 * that is not JSON is what a page may send cross-site without a preflight (text/plain, forms).
 */
function refusedCall(api: HttpApi, req: IncomingMessage): { status: number; message: string } | null {
  const origin = req.headers.origin;
  if (origin !== undefined && !api.hosts().admitsOrigin(origin)) return { status: 403, message: "Origin not allowed" };
  if (!JSON_CONTENT_TYPE.test(req.headers["content-type"] ?? "")) return { status: 415, message: "Content-Type must be application/json" };
  return null;
}

/**
 * `POST /`, or with `explore` the explorer's `POST /explore`: the board's answer in its mode as
 * the status, and as the body `{mode, full, vera}` (each `{status, text, body}`).
 */
async function postCall(api: HttpApi, req: IncomingMessage, res: ServerResponse, explore = false): Promise<void> {
  const refused = refusedCall(api, req);
  if (refused) {
    // The body is never read: close rather than drain whatever the page sent.
    res.setHeader("connection", "close");
    return sendError(res, refused.status, refused.message);
  }
  let body: Buffer;
  try {
    body = await readBody(req, MAX_BODY_BYTES);
  } catch (error) {
    // A client that went away or was cut off by the server's request timeout: nobody to answer.
    if (!req.complete && req.destroyed) return void api.log.debug({ err: error }, "POST / abandoned before its body arrived");
    if (!(error instanceof BodyTooLarge)) throw error;
    // Stop reading an oversized upload: answer, then drop the connection.
    res.setHeader("connection", "close");
    sendError(res, 413, `The body must not exceed ${MAX_BODY_BYTES} bytes`);
    req.resume();
    return;
  }
  const call = parseCall(api, req, body);
  if (!call.ok) return sendJson(res, call.answer.status, call.answer.body);
  if (explore) {
    const answers = await api.explore(call.action, call.fields);
    return sendJson(res, answers[answers.mode].status, { mode: answers.mode, full: described(answers.full), vera: described(answers.vera) });
  }
  const answer = await api.call(call.action, call.fields, call.serviceId);
  sendJson(res, answer.status, answer.body);
}

async function getExplorer(api: HttpApi, res: ServerResponse): Promise<void> {
  const html = await api.explorerPage();
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(html),
    "content-security-policy": EXPLORER_CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  res.end(html);
}

function route(api: HttpApi, req: IncomingMessage, res: ServerResponse): Promise<void> | void {
  // A page that rebound its own name to 127.0.0.1 sends that name: refuse before anything is read or served.
  if (!api.hosts().admitsHost(req.headers.host)) return sendError(res, 403, "Host not allowed");
  const path = new URL(req.url ?? "/", "http://devboard").pathname;
  // Reaching here on the socket path means the request was not a WebSocket upgrade.
  if (path === SOCKET_PATH) return sendEmpty(res, 400);
  if (path === "/") {
    if (req.method === "POST") return postCall(api, req, res);
    if (req.method === "GET") return getExplorer(api, res);
    res.setHeader("allow", "GET, POST");
    return sendError(res, 405, "Method not allowed");
  }
  if (path === EXPLORE_PATH) {
    if (req.method === "POST") return postCall(api, req, res, true);
    res.setHeader("allow", "POST");
    return sendError(res, 405, "Method not allowed");
  }
  // `?service_id=` names another service the board hosts (`npm run client` reads it).
  if (path === "/actions" && req.method === "GET") return sendJson(res, 200, api.publishedActions(new URL(req.url ?? "/", "http://devboard").searchParams.get("service_id") ?? undefined));
  sendError(res, 404, "Not found");
}

/** The `request` listener of the board's HTTP server. */
export async function handleHttp(api: HttpApi, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    await route(api, req, res);
  } catch (error) {
    api.log.error({ err: error, url: req.url }, "dev plugboard HTTP handler failed");
    if (!res.headersSent) sendError(res, 500, "Internal server error");
    else res.destroy();
  }
}
