/**
 * What the log says while the plugboard is away: one warning when it is lost, then at most one
 * summary per interval (attempts, the last error), and one line when it is back. A refusal
 * (HTTP 403) is an error with its likely causes, once, then summaries too. Reconnects happen
 * every few seconds for as long as it takes: a line per attempt would bury everything else.
 */
import type { Logger } from "../ops/logger.ts";

const OUTAGE_SUMMARY_EVERY_MS = 30_000;

export class OutageLog {
  private downSince: number | undefined;
  private attempts = 0;
  private lastError: string | undefined;
  private lastLineAt = 0;
  private refusalReported = false;

  constructor(
    private readonly log: Logger,
    private readonly summaryEveryMs = OUTAGE_SUMMARY_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  /** The connection (or the first attempt at one) is gone. */
  lost(reason: string): void {
    if (this.downSince !== undefined) return;
    this.downSince = this.lastLineAt = this.now();
    this.attempts = 0;
    this.log.warn({ reason }, `lost the plugboard; reconnecting (a summary at most every ${this.summaryEveryMs / 1000} s until it is back)`);
  }

  /** One attempt failed; `refusedStatus` when the plugboard answered the upgrade with an HTTP status. */
  failed(error: string, refusedStatus?: number): void {
    this.lost(error);
    this.attempts++;
    this.lastError = error;
    if (refusedStatus === 403 && !this.refusalReported) {
      this.refusalReported = true;
      this.lastLineAt = this.now();
      this.log.error(
        { http_status: 403 },
        "plugboard refused the connection (HTTP 403): TOKEN is wrong, or this replica's actions differ from the replicas already joined; retrying slowly",
      );
      return;
    }
    if (this.now() - this.lastLineAt < this.summaryEveryMs) return;
    this.lastLineAt = this.now();
    const fields = { attempts: this.attempts, last_error: this.lastError, down_ms: this.now() - this.downSince! };
    if (refusedStatus !== undefined) this.log.error({ ...fields, http_status: refusedStatus }, "the plugboard still refuses the connection");
    else this.log.warn(fields, "the plugboard is still unreachable");
  }

  /** Connected again: one line with how long it took. */
  back(): void {
    if (this.downSince === undefined) return;
    this.log.info({ down_ms: this.now() - this.downSince, attempts: this.attempts }, "the plugboard is back");
    this.downSince = undefined;
    this.refusalReported = false;
  }
}
