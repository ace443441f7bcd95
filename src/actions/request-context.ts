/**
 * The context of one run. Its logger and AbortSignal are made on first use: most runs never
 * touch them, and a pino child logger (with redaction) or an AbortController per request is a
 * measurable share of a cheap request's cost. What middleware adds (the signed-in account) is
 * assigned onto it.
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

/** A running request's place in the dispatcher, given up while it waits elsewhere. */
export interface DispatchSlot {
  release(): void;
  retake(): Promise<void>;
}

export class RequestContext implements BaseContext {
  private childLog: Logger | undefined;
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;

  constructor(
    private readonly baseLog: Logger,
    readonly action: string,
    readonly responseRef: string,
    private readonly providers: ProviderHost,
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
    this.childLog ??= this.baseLog.child({ action: this.action, response_ref: this.responseRef });
    return this.childLog;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get<T>(provider: Provider<T>): T {
    return this.providers.get(provider);
  }

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}
