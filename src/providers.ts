/**
 * Providers: how an app hands its actions what they need (a repository, a key set, a client),
 * typed, without giving every action the whole configuration. A provider is a constant an
 * action or middleware imports and reads with `ctx.get(provider)`; the framework starts the
 * providers the loaded actions declare (`needs`, directly or through their middleware), in
 * dependency order, and stops them in reverse. A provider nobody needs never starts, so an app
 * without a database-backed action never opens a database. A provider may declare settings:
 * they are read from the environment, with every other provider's, before anything starts.
 */
import type { AnySchema } from "./schema/types.ts";
import { readSettings, ConfigError } from "./config.ts";
import type { Logger } from "./ops/logger.ts";
import type { LaneStats } from "./actions/lane.ts";
import type { MigrationSource } from "./db/migration-sources.ts";

/** Whether the service runs behind a real plugboard, and whether under tests (NODE_ENV=test). */
export interface SettingsMode {
  production: boolean;
  test: boolean;
}

export type { LaneStats } from "./actions/lane.ts";

/** What a provider's start function receives. */
export interface ProviderStart<S = undefined> {
  log: Logger;
  /** A real plugboard is configured (not dev mode). */
  production: boolean;
  /** DATA_DIR: where a process keeps local state in dev (the embedded database, generated secrets). */
  dataDir: string;
  /** Its settings, read from the environment (see ProviderDefinition.settings). */
  settings: S;
  /**
   * The value of a provider this one lists in `needs`, once it has started. Providers start
   * concurrently: each waits here for what it needs only, so a password pool warms up while the
   * database connects.
   */
  get<T>(provider: Provider<T>): Promise<T>;
  /** Reports a heavy-work lane's load to the metrics. */
  reportLane(stats: () => LaneStats): void;
}

/** A command a module brings to `vera-service` (the account module's `roles`): src/cli/module-commands.ts. */
export interface ModuleCommand {
  /** One line for the usage. */
  summary: string;
  /** Runs with the arguments after the command's name; resolves with the exit code. */
  run(args: string[]): Promise<number>;
}

export interface Provider<T, S = any> {
  readonly name: string;
  readonly needs: readonly Provider<unknown>[];
  /** Its tables' migrations: run after the framework's, before the app's, when it is used. */
  readonly migrations?: MigrationSource;
  /** Commands of `vera-service` it brings, by name, for apps that use it. */
  readonly commands?: Readonly<Record<string, ModuleCommand>>;
  /** Settings the test kit uses unless a test gives its own (a low bcrypt cost …). */
  readonly testDefaults?: Readonly<Record<string, string>>;
  readonly settings?: (mode: SettingsMode) => AnySchema<S>;
  start(ctx: ProviderStart<S>): T | Promise<T>;
  stop?(value: T): void | Promise<void>;
}

export interface ProviderDefinition<T, S> {
  /** Shown in logs and errors. */
  name: string;
  /** Providers this one's start reads with ctx.get. */
  needs?: readonly Provider<unknown>[];
  /**
   * The migrations of the tables it uses (a provider that needs `postgres`): `{ owner, dir }`,
   * the owner naming its bookkeeping table. They run, under the migration lock, only for an app
   * that uses this provider: after the framework's, before the app's own.
   */
  migrations?: MigrationSource;
  /** Commands of `vera-service` it brings (`vera-service <name> …`), for apps that use it: operator tasks no action may do. */
  commands?: Record<string, ModuleCommand>;
  /** Settings the test kit (vera-service/testing) uses unless a test gives its own: what keeps tests fast (a low bcrypt cost). */
  testDefaults?: Record<string, string>;
  /**
   * Its settings: a zod schema (3.25+ or 4) of environment variables (an object keyed by their names). Every
   * problem is one line naming the variable, and stops the start-up (exit 2) before anything connects.
   */
  settings?: (mode: SettingsMode) => AnySchema<S>;
  start(ctx: ProviderStart<S>): T | Promise<T>;
  stop?(value: T): void | Promise<void>;
}

/** Declares a provider. */
export function provider<T, S = undefined>(definition: ProviderDefinition<T, S>): Provider<T, S> {
  return Object.freeze({
    name: definition.name,
    needs: definition.needs ?? [],
    ...(definition.migrations ? { migrations: definition.migrations } : {}),
    ...(definition.commands ? { commands: Object.freeze({ ...definition.commands }) } : {}),
    ...(definition.testDefaults ? { testDefaults: Object.freeze({ ...definition.testDefaults }) } : {}),
    ...(definition.settings ? { settings: definition.settings } : {}),
    start: definition.start.bind(definition),
    ...(definition.stop ? { stop: definition.stop.bind(definition) } : {}),
  });
}

/** ctx.get of a provider that was not started: an action or middleware forgot it in `needs`. */
export class ProviderNotStartedError extends Error {
  constructor(name: string) {
    super(`provider "${name}" is not started: list it in the action's (or its middleware's) needs`);
    this.name = "ProviderNotStartedError";
  }
}

/** Each provider once, every provider it needs (directly or not) before it. */
export function dependencyOrder(wanted: Iterable<Provider<unknown>>): Provider<unknown>[] {
  const order: Provider<unknown>[] = [];
  const visiting = new Set<Provider<unknown>>();
  const visit = (p: Provider<unknown>) => {
    if (order.includes(p)) return;
    if (visiting.has(p)) throw new Error(`provider "${p.name}" needs itself (a cycle)`);
    visiting.add(p);
    for (const dependency of p.needs) visit(dependency);
    order.push(p);
  };
  for (const p of wanted) visit(p);
  return order;
}

export interface ProviderHostOptions {
  log: Logger;
  production: boolean;
  /** NODE_ENV=test: settings may relax what production demands. */
  test?: boolean;
  dataDir?: string;
  /** Where settings are read from (the framework's: Config.env; default: the process environment). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The started providers of one app. */
export class ProviderHost {
  private readonly values = new Map<Provider<unknown>, unknown>();
  /** Each provider's start (or supply) under way or done: what a dependent waits for. */
  private readonly starting = new Map<Provider<unknown>, Promise<unknown>>();
  private readonly settings = new Map<Provider<unknown>, unknown>();
  private readonly order: Provider<unknown>[] = [];
  /** The heavy-work lanes providers reported. */
  readonly lanes: Array<() => LaneStats> = [];

  constructor(private readonly options: ProviderHostOptions) {}

  /** A value the framework makes itself (the database it connects), as if `provider` had started. */
  supply<T>(provider: Provider<T>, value: T | Promise<T>): void {
    if (!(value instanceof Promise)) {
      this.values.set(provider, value);
      this.starting.set(provider, Promise.resolve(value));
      return;
    }
    const supplied = value.then((v) => {
      this.values.set(provider, v);
      return v;
    });
    supplied.catch(() => undefined); // its failure reaches start() through the dependents, or the supplier
    this.starting.set(provider, supplied);
  }

  get<T>(provider: Provider<T>): T {
    if (!this.values.has(provider)) throw new ProviderNotStartedError(provider.name);
    return this.values.get(provider) as T;
  }

  /**
   * Reads the settings of `wanted` and what they need; throws ConfigError with every problem.
   * start() does it too; called first, it stops a bad start-up before anything connects.
   */
  check(wanted: Iterable<Provider<unknown>>): void {
    const problems: string[] = [];
    const mode: SettingsMode = { production: this.options.production, test: this.options.test ?? false };
    for (const p of dependencyOrder(wanted)) {
      if (this.settings.has(p) || this.values.has(p)) continue;
      try {
        this.settings.set(p, p.settings ? readSettings(p.settings(mode), this.options.env) : undefined);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(...error.problems);
      }
    }
    if (problems.length > 0) throw new ConfigError(problems);
  }

  /**
   * Starts `wanted` and what they need, each once, after checking all their settings
   * (ConfigError with every problem). They start concurrently, each as soon as what it needs has
   * started. On a failure stops what did start, then throws the first error.
   */
  async start(wanted: Iterable<Provider<unknown>>): Promise<void> {
    this.check(wanted);
    const order = dependencyOrder(wanted).filter((p) => !this.starting.has(p));
    for (const p of order) this.starting.set(p, this.launch(p));
    const results = await Promise.allSettled(order.map((p) => this.starting.get(p)!));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
  }

  private async launch(p: Provider<unknown>): Promise<unknown> {
    const value = await p.start({
      log: this.options.log.child({ provider: p.name }),
      production: this.options.production,
      dataDir: this.options.dataDir ?? ".data",
      settings: this.settings.get(p),
      get: <T>(dependency: Provider<T>): Promise<T> => {
        const started = p.needs.includes(dependency as Provider<unknown>) ? this.starting.get(dependency) : undefined;
        return started ? (started as Promise<T>) : Promise.reject(new ProviderNotStartedError(dependency.name));
      },
      reportLane: (stats) => void this.lanes.push(stats),
    });
    this.values.set(p, value);
    this.order.push(p);
    return value;
  }

  /** Stops what start() started, last first; a failing stop is logged, not thrown. */
  async stop(): Promise<void> {
    for (const p of this.order.splice(0).reverse()) {
      try {
        await p.stop?.(this.values.get(p));
      } catch (error) {
        this.options.log.warn({ err: error, provider: p.name }, "provider failed to stop");
      }
      this.values.delete(p);
      this.starting.delete(p);
    }
  }
}
