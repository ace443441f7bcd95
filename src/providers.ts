/**
 * Providers: how an app hands its actions what they need (a repository, a key set, a client),
 * typed, without giving every action the whole configuration. A provider is a constant an
 * action or middleware imports and reads with `ctx.get(provider)`; the framework starts the
 * providers the loaded actions declare (`needs`, directly or through their middleware), in
 * dependency order, and stops them in reverse. A provider nobody needs never starts, so an app
 * without a database-backed action never opens a database.
 */
import type { Logger } from "./ops/logger.ts";

/** What a provider's start function receives. */
export interface ProviderStart {
  log: Logger;
  /** A real plugboard is configured (not dev mode). */
  production: boolean;
  /** The value of a provider this one lists in `needs`. */
  get<T>(provider: Provider<T>): T;
}

export interface Provider<T> {
  readonly name: string;
  readonly needs: readonly Provider<unknown>[];
  start(ctx: ProviderStart): T | Promise<T>;
  stop?(value: T): void | Promise<void>;
}

export interface ProviderDefinition<T> {
  /** Shown in logs and errors. */
  name: string;
  /** Providers this one's start reads with ctx.get. */
  needs?: readonly Provider<unknown>[];
  start(ctx: ProviderStart): T | Promise<T>;
  stop?(value: T): void | Promise<void>;
}

/** Declares a provider. */
export function provider<T>(definition: ProviderDefinition<T>): Provider<T> {
  return Object.freeze({
    name: definition.name,
    needs: definition.needs ?? [],
    start: definition.start.bind(definition),
    ...(definition.stop ? { stop: definition.stop.bind(definition) } : {}),
  });
}

/** ctx.get of a provider that was not started: an action or middleware forgot it in `needs`. */
class ProviderNotStartedError extends Error {
  constructor(name: string) {
    super(`provider "${name}" is not started: list it in the action's (or its middleware's) needs`);
    this.name = "ProviderNotStartedError";
  }
}

/** The started providers of one app. */
export class ProviderHost {
  private readonly values = new Map<Provider<unknown>, unknown>();
  private readonly order: Provider<unknown>[] = [];

  constructor(private readonly options: { log: Logger; production: boolean }) {}

  /** A value the framework made itself (the database it connected), as if `provider` had started. */
  supply<T>(provider: Provider<T>, value: T): void {
    this.values.set(provider, value);
  }

  get<T>(provider: Provider<T>): T {
    if (!this.values.has(provider)) throw new ProviderNotStartedError(provider.name);
    return this.values.get(provider) as T;
  }

  /** Starts `wanted` and what they need, each once, dependencies first. On a failure stops what it started, then throws. */
  async start(wanted: Iterable<Provider<unknown>>): Promise<void> {
    const visiting = new Set<Provider<unknown>>();
    const visit = async (p: Provider<unknown>): Promise<void> => {
      if (this.values.has(p)) return;
      if (visiting.has(p)) throw new Error(`provider "${p.name}" needs itself (a cycle)`);
      visiting.add(p);
      for (const dependency of p.needs) await visit(dependency);
      const scoped: ProviderStart = {
        log: this.options.log.child({ provider: p.name }),
        production: this.options.production,
        get: (dependency) => {
          if (!p.needs.includes(dependency as Provider<unknown>)) throw new ProviderNotStartedError(dependency.name);
          return this.get(dependency);
        },
      };
      this.values.set(p, await p.start(scoped));
      this.order.push(p);
    };
    try {
      for (const p of wanted) await visit(p);
    } catch (error) {
      await this.stop();
      throw error;
    }
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
    }
  }
}
