/**
 * The operator's HTTP port (HEALTH_PORT): GET /healthz (alive: joined to the plugboard and the
 * database answers), GET /readyz (the same, and not draining) and GET /metrics (Prometheus text).
 * It never touches the request path: checks read the app's state and ping the database with a
 * short timeout, so a hanging database turns into a 503 instead of a hanging probe.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import type { Logger } from "./logger.ts";

/**
 * node:http through require, not import: an ESM import reads every export of the module, and on
 * Node 22+ that runs the getters of http.WebSocket, CloseEvent and MessageEvent, which load
 * undici — 13 MB of RSS (bench/RESULTS.md, "What a replica holds") for a server that uses none of it.
 */
const { createServer } = createRequire(import.meta.url)("node:http") as typeof import("node:http");

/** What the checks read. */
export interface HealthChecks {
  isJoined(): boolean;
  isDraining(): boolean;
  /** Resolves when the database answers; rejects (or hangs) otherwise. */
  /** Absent when the app uses no database: then there is none to wait for. */
  pingDatabase?(): Promise<void>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The events relay's state (src/domain-events/relay.ts), when there is one: reported, not judged (a restart would not bring Redis back). */
  eventsRelay?(): string;
}

export interface HealthServerOptions {
  port: number;
  /** Default: every interface, so a scraper or an orchestrator outside the container reaches it. */
  host?: string;
  checks: HealthChecks;
  log: Logger;
  /** How long the database may take to answer a probe (default 1500 ms). */
  pingTimeoutMs?: number;
}

const REASONS = {
  notJoined: "not joined to the plugboard",
  database: "database unreachable",
  draining: "draining",
} as const;

type Verdict = ({ status: "ok" } | { status: "unavailable"; reason: string }) & { events_relay?: string };

export class HealthServer {
  private readonly server: Server;
  private readonly options: HealthServerOptions;
  /** One ping at a time: frequent probes against a hanging database share it instead of piling up. */
  private ping: Promise<boolean> | undefined;
  /** The last ping's outcome, so the log tells changes rather than every probe. */
  private databaseWasUp = true;

  private constructor(options: HealthServerOptions) {
    this.options = options;
    this.server = createServer((req, res) => void this.route(req, res));
    // Probes are tiny; a slow or idle client must not hold a socket open.
    this.server.requestTimeout = 5_000;
    this.server.keepAliveTimeout = 5_000;
  }

  /** Listens on the port; rejects when it cannot (e.g. the port is taken). */
  static async start(options: HealthServerOptions): Promise<HealthServer> {
    const health = new HealthServer(options);
    await new Promise<void>((resolve, reject) => {
      health.server.once("error", reject);
      health.server.listen(options.port, options.host, () => {
        health.server.off("error", reject);
        resolve();
      });
    });
    return health;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Base URL for local clients, e.g. http://127.0.0.1:9090. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "application/json", JSON.stringify({ error: "method not allowed" }), { allow: "GET, HEAD" });
      if (path === "/healthz") return sendVerdict(res, await this.health(false));
      if (path === "/readyz") return sendVerdict(res, await this.health(true));
      if (path === "/metrics") {
        const { contentType, body } = await this.options.checks.metrics();
        return send(res, 200, contentType, body);
      }
      send(res, 404, "application/json", JSON.stringify({ error: "not found", paths: ["/healthz", "/readyz", "/metrics"] }));
    } catch (error) {
      this.options.log.error({ err: error, path: req.url }, "health endpoint failed");
      if (!res.headersSent) send(res, 500, "application/json", JSON.stringify({ error: "internal error" }));
      else res.destroy();
    }
  }

  private async health(readiness: boolean): Promise<Verdict> {
    const verdict = await this.verdict(readiness);
    const relay = this.options.checks.eventsRelay?.();
    return relay === undefined ? verdict : { ...verdict, events_relay: relay };
  }

  private async verdict(readiness: boolean): Promise<Verdict> {
    const { checks } = this.options;
    if (readiness && checks.isDraining()) return { status: "unavailable", reason: REASONS.draining };
    if (!checks.isJoined()) return { status: "unavailable", reason: REASONS.notJoined };
    if (!(await this.databaseAnswers())) return { status: "unavailable", reason: REASONS.database };
    return { status: "ok" };
  }

  private databaseAnswers(): Promise<boolean> {
    const { pingDatabase } = this.options.checks;
    if (!pingDatabase) return Promise.resolve(true);
    this.ping ??= withTimeout(pingDatabase(), this.options.pingTimeoutMs ?? 1_500)
      .then(
        () => {
          if (!this.databaseWasUp) this.options.log.info("health check: the database answers again");
          this.databaseWasUp = true;
          return true;
        },
        (error: unknown) => {
          if (this.databaseWasUp) this.options.log.warn({ reason: (error as Error)?.message }, "health check: the database does not answer");
          this.databaseWasUp = false;
          return false;
        },
      )
      .finally(() => (this.ping = undefined));
    return this.ping;
  }
}

function sendVerdict(res: ServerResponse, verdict: Verdict): void {
  send(res, verdict.status === "ok" ? 200 : 503, "application/json", JSON.stringify(verdict));
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store", ...headers });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
