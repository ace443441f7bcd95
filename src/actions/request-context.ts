/**
 * The context of one run. Its logger and AbortSignal are made on first use: most runs never
 * touch them, and a pino child logger (with redaction) or an AbortController per request is a
 * measurable share of a cheap request's cost. What middleware adds (the signed-in account) makes
 * a new context over this one (extendContext); nothing is written into it.
 */
import type { Logger } from "../ops/logger.ts";
import type { Provider, ProviderHost } from "../providers.ts";
import type { BaseContext } from "./action.ts";
import type { ServiceCaller } from "../calls/caller.ts";
import type { CallFunction } from "../calls/types.ts";

/** ctx.call without the plugboard's HTTP side configured: a deployment mistake, answered 500. */
export class CallsNotConfiguredError extends Error {
  constructor() {
    super("service calls are not configured: set PLUGBOARD_API_TOKEN (and PLUGBOARD_HTTP_URL unless WEBSOCKET_URL gives it)");
    this.name = "CallsNotConfiguredError";
  }
}

/**
 * ctx.get of a provider the action did not declare (in its `needs`, or a middleware's): it would
 * work only while another action happened to declare it, so it never does.
 */
export class ProviderNotDeclaredError extends Error {
  constructor(action: string, provider: string) {
    super(`${action} reads the provider "${provider}" without declaring it: add it to the action's needs (or its middleware's)`);
    this.name = "ProviderNotDeclaredError";
  }
}

/** A running request's place in the dispatcher, given up while it waits elsewhere. */
export interface DispatchSlot {
  release(): void;
  retake(): Promise<void>;
}

/** What a run changes as it goes: one object, shared by every context made over the first. */
interface RunState {
  log: Logger | undefined;
  controller: AbortController | undefined;
  abortReason: Error | undefined;
}

export class RequestContext implements BaseContext {
  private readonly state: RunState = { log: undefined, controller: undefined, abortReason: undefined };

  constructor(
    private readonly baseLog: Logger,
    readonly action: string,
    readonly responseRef: string,
    private readonly providers: ProviderHost,
    /** The providers the action declares, its middleware's included: all ctx.get may read. */
    private readonly declared: ReadonlySet<Provider<unknown>>,
    /** When the request's deadline passes (ms since epoch): calls it makes end before it. */
    readonly deadline: number,
    private readonly caller: ServiceCaller | undefined,
    /** The request's place among the dispatcher's MAX_CONCURRENCY (src/actions/dispatcher.ts). */
    private readonly slot: DispatchSlot,
  ) {}

  /**
   * Waits for `waiting` without holding the request's dispatcher slot, so other requests may
   * start meanwhile; once it settles, the run goes on as soon as a slot is free again (ahead of
   * requests that have not started). For waits in a queue of their own, such as a Lane's.
   */
  async withoutSlot<T>(waiting: Promise<T>): Promise<T> {
    this.slot.release();
    try {
      return await waiting;
    } finally {
      await this.slot.retake();
    }
  }

  // A method, not a property: a context is made per request, and most never call.
  call(...[target, action, fields, options]: Parameters<CallFunction>): ReturnType<CallFunction> {
    if (!this.caller) return Promise.reject(new CallsNotConfiguredError());
    return this.caller.call(target, action, fields, { ...options, deadlineAt: this.deadline, signal: this.signal });
  }

  get log(): Logger {
    this.state.log ??= this.baseLog.child({ action: this.action, response_ref: this.responseRef });
    return this.state.log;
  }

  get signal(): AbortSignal {
    const state = this.state;
    if (!state.controller) {
      state.controller = new AbortController();
      if (state.abortReason) state.controller.abort(state.abortReason);
    }
    return state.controller.signal;
  }

  get<T>(provider: Provider<T>): T {
    if (!this.declared.has(provider)) throw new ProviderNotDeclaredError(this.action, provider.name);
    return this.providers.get(provider);
  }

  get aborted(): boolean {
    return this.state.abortReason !== undefined;
  }

  abort(reason: Error): void {
    const state = this.state;
    if (state.abortReason) return;
    state.abortReason = reason;
    state.controller?.abort(reason);
  }
}

/**
 * A middleware's additions over a context: a new context whose own fields are the additions (so
 * one may replace `log`) and whose prototype is the context it extends, which keeps answering
 * for everything else: the run's state is one object, reached from either.
 */
export function extendContext(ctx: BaseContext, adds: object | undefined): BaseContext {
  if (!adds || Object.keys(adds).length === 0) return ctx;
  return Object.create(ctx, Object.getOwnPropertyDescriptors(adds)) as BaseContext;
}
