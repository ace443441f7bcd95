/**
 * The ActionContext of one run. Its logger and AbortSignal are made on first use: most runs
 * never touch them, and a pino child logger (with redaction) or an AbortController per request
 * is a measurable share of a cheap request's cost.
 */
import type { Logger } from "../ops/logger.ts";
import type { Services } from "../services.ts";
import type { ActionContext } from "./action.ts";
import type { User } from "../db/schema.ts";
import type { TokenClaims } from "../auth/tokens.ts";

export class RequestContext implements ActionContext {
  private childLog: Logger | undefined;
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;
  /** Set by the guard for actions that require a signed-in user. */
  user: User | undefined;
  claims: TokenClaims | undefined;

  constructor(
    private readonly baseLog: Logger,
    readonly action: string,
    readonly responseRef: string,
    readonly services: Services,
  ) {}

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

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}
