/**
 * The whole consumer, assembled: services → actions → dispatcher → plugboard client, plus the
 * dev plugboard when no WEBSOCKET_URL is configured. main.ts runs it as a process; tests start
 * it in-process. `stop()` is the graceful drain (README "Operations"; the plugboard behaviour it
 * must work with: docs/protocol.md, findings B and C).
 */
import { existsSync } from "node:fs";
import { EXIT_CODE } from "./ops/exit-codes.ts";
import { setTimeout as delay } from "node:timers/promises";
import type { Config } from "./config.ts";
import type { Logger } from "./ops/logger.ts";
import { Dispatcher, configuredLimits, type DispatchObserver } from "./actions/dispatcher.ts";
import { loadActions, type Registry } from "./actions/registry.ts";
import type { Handover } from "./plugboard/handover.ts";
import { PlugboardClient, type PlugboardClientOptions } from "./plugboard/client.ts";
import type { DevPlugboard } from "./devboard/server.ts";
import { startProviders, type StartedProviders } from "./start-providers.ts";
import { loadSubscribers } from "./domain-events/load-subscribers.ts";
import { configuredCaller, type ServiceCaller } from "./calls/caller.ts";
import type { StartedEvents } from "./domain-events/start.ts";
import { postgres, type Postgres } from "./db/postgres.ts";
import { dependencyOrder, type ProviderHost } from "./providers.ts";
import { watchFolder, type FolderWatcher } from "./watch-folder.ts";
import { HealthServer } from "./ops/health.ts";
import type { Metrics } from "./ops/metrics.ts";
import { handlers } from "./plugboard/pushes/index.ts";

/** How long a forced stop waits for aborted actions to answer, and for one last join to deliver them. */
const FORCED_STOP_GRACE_MS = 1_000;

export interface AppOptions {
  config: Readonly<Config>;
  log: Logger;
  /** Overrides for tests: backoff schedules and such. */
  client?: Partial<Pick<PlugboardClientOptions, "reconnectAfterMs" | "rejoinAfterMs" | "leaveTimeoutMs">>;
  observer?: DispatchObserver;
}

export class App {
  /** Resolves with the exit code once the app has stopped for good. */
  readonly done: Promise<number>;
  private finish!: (code: number) => void;
  private stopping: Promise<void> | undefined;
  /** What ctx.call sends through, when calls are configured (or the dev plugboard gives them). */
  caller: ServiceCaller | undefined;
  /** Hands and takes answers between replicas, with a database (src/plugboard/handover.ts). */
  handover: Handover | undefined;
  private closing: Promise<void> | undefined;
  private fatalExitCode: number | undefined;
  /** Set by stopNow: the drain, if it finishes after all, leaves the exit code to it. */
  private forced = false;
  private watchers: FolderWatcher[] = [];
  /** How many times the dev loop has reloaded the actions: each reload imports them afresh. */
  private reloads = 0;

  private constructor(
    readonly config: Readonly<Config>,
    readonly log: Logger,
    /** What the actions need (no database is opened when none needs one). */
    private readonly started: StartedProviders,
    /** The events relay and subscribers (with REDIS_URL), stopped before the providers. */
    private readonly events: StartedEvents | undefined,
    /** The actions served now (the dev loop replaces it). */
    public registry: Registry,
    readonly dispatcher: Dispatcher,
    readonly client: PlugboardClient,
    readonly board: DevPlugboard | undefined,
    /** The HEALTH_PORT server and its metrics; absent when HEALTH_PORT is unset. */
    readonly health: HealthServer | undefined,
    readonly metrics: Metrics | undefined,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  static async start(options: AppOptions): Promise<App> {
    const { config, log } = options;
    // Production stops on an action file that fails to import, a duplicate name, or no action at all.
    const registry = await loadActions({ dir: config.actionsDir, log, strict: config.production });
    const subscribers = await loadSubscribers(config.events.subscribersDir, log);
    // What has started so far, stopped last first should a later step fail.
    const undo: Array<() => Promise<unknown>> = [];
    const failed = async (error: unknown): Promise<never> => {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      throw error;
    };
    let board: DevPlugboard | undefined;
    let started: StartedProviders;
    try {
      // The dev plugboard's code is loaded only in dev mode: production never imports src/devboard/.
      board = config.websocketUrl
        ? undefined
        : await (await import("./devboard/server.ts")).startDevPlugboard(config.serviceName, {
            port: config.plugboard.port,
            host: config.plugboard.host,
            allowedHosts: config.plugboard.allowedHosts,
            httpMode: config.plugboard.httpMode,
            token: config.token,
            // Shared with the services that join this board and call through it (README "Calling another service").
            ...(config.calls.apiToken ? { accountToken: config.calls.apiToken } : {}),
            services: config.plugboard.services,
            log: log.child({ component: "devboard" }),
          });
      if (board) undo.push(board.stop.bind(board));
      started = await startProviders([...registry.providers, ...subscribers.flatMap((s) => s.providers ?? [])], config, log);
      undo.push(started.close);
    } catch (error) {
      return failed(error);
    }
    const { providers, postgres } = started;
    let events: StartedEvents | undefined;
    try {
      // The events machinery, pg's own sessions and (with REDIS_URL) ioredis load only with a database.
      events = postgres && (await (await import("./domain-events/start.ts")).startEvents(postgres, subscribers, config, log, (provider) => providers.get(provider)));
      if (events) undo.push(events.stop);
    } catch (error) {
      return failed(error);
    }
    const relay = events?.relay;
    // prom-client loads only when HEALTH_PORT serves the metrics; the database's module is loaded already when it opened.
    const [metricsModule, database] = await Promise.all([
      config.healthPort === undefined ? undefined : import("./ops/metrics.ts"),
      postgres ? import("./db/database.ts") : undefined,
    ]);
    const metrics = metricsModule && new metricsModule.Metrics(registry.names);
    // In dev mode, calls go through the dev plugboard with its account token unless others are configured.
    const caller = configuredCaller(config.calls, log, {
      ...(board ? { fallback: { httpUrl: board.url, apiToken: board.accountToken } } : {}),
      ...(metrics ? { observer: metrics.calls } : {}),
    });
    const dispatcher = new Dispatcher({
      ...(caller ? { caller } : {}),
      registry,
      providers,
      checkOutputs: !config.production,
      log,
      ...configuredLimits(config),
      observer: metrics ? metricsModule!.observeAll(metrics, options.observer) : options.observer,
    });
    let app: App | undefined;
    const client = new PlugboardClient({
      url: config.websocketUrl ?? board!.socketUrl,
      token: config.websocketUrl ? config.token! : board!.token,
      actionsJson: registry.json,
      log,
      handlers,
      dispatch: (request, done) => dispatcher.answer(request, done),
      onFatal: (reason, exitCode) => void app?.fatal(reason, exitCode),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      messageFormat: config.messageFormat,
      answerHoldMs: config.answerHoldMs,
      ...options.client,
    });
    metrics?.watch({
      connectionState: () => client.connectionState,
      reconnects: () => client.reconnects,
      numConsumers: () => client.state.numConsumers,
      answers: () => client.answers.stats,
      lanes: () => providers.lanes.map((stats) => stats()),
      ...(relay && events ? { events: () => ({ ...relay.stats, backlog: () => events.backlog() }) } : {}),
      ...(events ? { subscribers: () => events.subscribers?.stats ?? new Map() } : {}),
    });
    let health: HealthServer | undefined;
    if (metrics && config.healthPort !== undefined) {
      try {
        health = await HealthServer.start({
          port: config.healthPort,
          ...(config.healthHost ? { host: config.healthHost } : {}),
          log: log.child({ component: "health" }),
          checks: {
            // A draining replica leaves the channel on purpose; it is alive until it exits.
            isJoined: () => client.isJoined || dispatcher.isDraining,
            isDraining: () => dispatcher.isDraining,
            ...(postgres && database ? { pingDatabase: () => database.pingDatabase(postgres.db) } : {}),
            metrics: () => metrics.exposition(),
            ...(relay ? { eventsRelay: () => relay.state } : {}),
          },
        });
      } catch (error) {
        return failed(error);
      }
      log.info({ health_port: health.port }, `health and metrics on port ${health.port}: /healthz, /readyz, /metrics`);
    }
    // What follows the client's start is loaded before it: from client.start() to the return
    // nothing may wait, or a join (and a SIGTERM after it) could come before the caller has
    // installed its signal handlers (src/cli/serve.ts).
    const [handoverModule, recentModule] = await Promise.all([
      postgres ? import("./plugboard/handover.ts") : undefined,
      board && postgres ? import("./domain-events/recent.ts") : undefined,
    ]);
    app = new App(config, log, started, events, registry, dispatcher, client, board, health, metrics);
    app.caller = caller;
    client.start();
    // With a database, replicas hand each other the answers a drain finishes after its leave
    // (src/plugboard/handover.ts): a drain then leaves the channel once.
    if (postgres && handoverModule) {
      const handover = new handoverModule.Handover(postgres.db, postgres.url, log.child({ component: "handover" }));
      app.handover = handover;
      handover
        .startTaking({ canSend: () => client.takesHandedOver, send: (answer) => client.answers.sendHandedOver(answer.ref, answer.text) })
        .catch((error: unknown) => log.warn({ err: error }, "cannot take answers other replicas hand over (a drain of this replica still delivers its own)"));
    }
    if (config.watchActions) {
      app.watchers.push(watchFolder(config.actionsDir, "actions", log, () => app.reload()));
      // Subscribers reload with a database only: without one, no events machinery runs.
      if (events && existsSync(config.events.subscribersDir)) {
        app.watchers.push(watchFolder(config.events.subscribersDir, "subscribers", log, () => app.reloadSubscribers()));
      }
    }
    if (board && postgres && recentModule) board.showEvents(() => recentModule.recentEvents(postgres.db));
    for (const service of board?.services().slice(1) ?? []) {
      log.info({ hosted_service: service.name, service_id: service.id }, `the dev plugboard also hosts ${service.name} (service_id ${service.id}): its consumers join ${board!.socketUrl} with its token from PLUGBOARD_SERVICES`);
    }
    if (board) {
      // The dev account token is the local board's own secret, not the service TOKEN: printing it is fine.
      log.info(
        { explorer: board.url, socket: board.socketUrl, http_mode: board.httpMode, service_id: board.service.id },
        `dev mode: open ${board.url} to call the actions (POST ${board.url}/ works too; as on the Vera Plugboard: ${board.curlExample(registry.exampleCall)})`,
      );
    }
    return app;
  }

  /** What the actions read with ctx.get. */
  get providers(): ProviderHost {
    return this.started.providers;
  }

  /** The database, when a loaded action needs it (else none is opened). */
  get database(): Postgres | undefined {
    return this.started.postgres;
  }

  /**
   * The dev loop: the actions folder changed. New requests go to the new set at once; when its
   * published schemas differ, the client republishes them (leaving first, so what runs finishes
   * and is answered). A file that fails to import keeps its last good actions (loadActions).
   */
  async reload(): Promise<void> {
    if (this.stopping) return;
    const started = performance.now();
    const registry = await loadActions({ dir: this.config.actionsDir, log: this.log, reload: { version: ++this.reloads, previous: this.registry } });
    if (!this.started.postgres && dependencyOrder(registry.providers).includes(postgres)) {
      this.log.error("an action now needs the database, which this process did not open: restart `npm run dev`; the last good set keeps serving");
      return;
    }
    // Providers already started are left as they are; a new one an action now needs starts.
    await this.started.providers.start(registry.providers.filter((p) => p !== postgres));
    const changed = registry.json !== this.registry.json;
    this.registry = registry;
    this.dispatcher.useRegistry(registry);
    this.metrics?.useActions(registry.names);
    if (changed) await this.client.republish(registry.json, () => this.client.answers.whenNothingRunning());
    this.log.info(
      { actions: registry.names, republished: changed, ms: Math.round(performance.now() - started) },
      changed ? "actions reloaded and published again" : "actions reloaded (published schemas unchanged)",
    );
  }

  /**
   * The dev loop: the subscribers folder changed. The runner stops and one for the new set starts
   * (src/domain-events/start.ts); what the old one had not acknowledged is delivered again.
   */
  async reloadSubscribers(): Promise<void> {
    if (this.stopping || !this.events) return;
    const started = performance.now();
    const subscribers = await loadSubscribers(this.config.events.subscribersDir, this.log, ++this.reloads);
    await this.started.providers.start(subscribers.flatMap((s) => s.providers ?? []).filter((p) => p !== postgres));
    await this.events.useSubscribers(subscribers);
    this.log.info({ subscribers: subscribers.map((s) => s.name), ms: Math.round(performance.now() - started) }, "subscribers reloaded");
  }

  /**
   * Graceful stop that costs callers nothing the consumer can save: leave the channel once,
   * answer what was routed here, hand those answers to a replica still joined (or deliver them in
   * one burst), close (PlugboardClient.drain). Past SHUTDOWN_TIMEOUT_MS it stops hard.
   */
  stop(): Promise<void> {
    this.stopping ??= this.drainAndClose();
    return this.stopping;
  }

  /**
   * A second signal, or the deadline: what is queued gets 503, what runs is aborted (504), those
   * answers go out through one last brief join if it comes within a second, then close; exit 1.
   */
  async stopNow(reason: string): Promise<void> {
    this.forced = true;
    this.log.warn({ in_flight: this.dispatcher.inFlight, queued: this.dispatcher.queued }, `stopping at once: ${reason}`);
    this.dispatcher.abortAll();
    await Promise.race([this.client.answers.whenNothingRunning(), delay(FORCED_STOP_GRACE_MS, undefined, { ref: false })]);
    await this.closeAll({ deliverWithinMs: FORCED_STOP_GRACE_MS }).catch(() => undefined);
    this.finish(EXIT_CODE.failed);
  }

  private async drainAndClose(): Promise<void> {
    const deadline = setTimeout(() => void this.stopNow("shutdown deadline passed"), this.config.shutdownTimeoutMs);
    deadline.unref();
    this.log.info(
      { in_flight: this.dispatcher.inFlight, queued: this.dispatcher.queued },
      "draining: leaving the plugboard; what was routed here is still answered",
    );
    void this.dispatcher.drain();
    await this.handover?.stopTaking();
    const { leaves, handedOver } = await this.client.drain(() => this.client.answers.whenNothingRunning(), this.handover);
    await this.closeAll();
    clearTimeout(deadline);
    // A forced stop (the deadline, a second signal) that overtook the drain ends it, with code 1.
    if (this.forced) return;
    this.log.info({ leaves, handed_over: handedOver }, "stopped cleanly");
    this.finish(this.fatalExitCode ?? EXIT_CODE.ok);
  }

  private async fatal(reason: string, exitCode: number): Promise<void> {
    this.log.fatal(reason);
    // A graceful stop already under way still ends with this code.
    this.fatalExitCode ??= exitCode;
    this.stopping ??= (async () => {
      void this.dispatcher.drain();
      await this.closeAll().catch(() => undefined);
    })();
    await this.stopping;
    this.finish(exitCode);
  }

  /** Closes everything once, however many paths (drain, deadline, second signal, fatal) ask. */
  private closeAll(options: { deliverWithinMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      for (const watcher of this.watchers) watcher.close();
      await this.handover?.stopTaking();
      await this.client.stop(options).catch((error: unknown) => this.log.warn({ err: error }, "leaving the plugboard failed"));
      await this.events?.stop();
      this.caller?.close();
      await this.started.close();
      await this.board?.stop().catch(() => undefined);
      await this.health?.close().catch(() => undefined);
    })();
    return this.closing;
  }
}
