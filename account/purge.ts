/**
 * Housekeeping: revocations whose token has expired (plus the clock skew a verifier allows) are
 * deleted now and then, and usernames whose lookalike keys an older replica made get the
 * current ones (account/username-keys.ts). Every replica runs the timer at a jittered interval; a transaction-level
 * advisory try-lock lets whichever gets there first do a round while the others skip it, and the
 * work goes in short batches (one small transaction each) so no request ever waits behind it.
 */
import { setImmediate as yieldToRequests } from "node:timers/promises";
import { sql, type Kysely } from "kysely";
import type { Logger } from "vera-service";
import { Revocations } from "./revocations.ts";
import { rekeyStaleUsernames } from "./username-keys.ts";
import type { Database } from "./schema.ts";

export interface PurgeOptions {
  /** Seconds past a token's exp before its revocation may go: the verifier's clock tolerance. */
  graceSeconds: number;
  /** Mean time between rounds (default 10 minutes); each wait is drawn from 50–150 % of it. */
  intervalMs?: number;
  /** Rows per batch (default 1000). */
  batchSize?: number;
}

export type RoundResult = { ran: true; purged: number } | { ran: false; reason: "another replica is purging" | "stopped" };

export class RevocationPurge {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    private readonly options: PurgeOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 10 * 60_000;
    this.batchSize = options.batchSize ?? 1000;
  }

  /** Starts the timer; the first round comes after one jittered interval, not at start-up. */
  start(): this {
    this.schedule();
    return this;
  }

  /** One round: batches until nothing expired is left, unless another replica holds the lock. */
  async runOnce(): Promise<RoundResult> {
    let purged = 0;
    for (;;) {
      if (this.stopped) return { ran: false, reason: "stopped" };
      const batch = await this.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtextextended('vera-service/revocation-purge', 0)) as locked`.execute(trx);
        if (!rows[0]?.locked) return undefined;
        return new Revocations(trx).purgeExpired(this.options.graceSeconds, this.batchSize);
      });
      if (batch === undefined) return purged > 0 ? { ran: true, purged } : { ran: false, reason: "another replica is purging" };
      purged += batch;
      if (batch < this.batchSize) return { ran: true, purged };
      await yieldToRequests();
    }
  }

  /** Stops the timer and waits for a round in progress (it ends after its current batch). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    const wait = Math.round(this.intervalMs * (0.5 + Math.random()));
    this.timer = setTimeout(() => void this.tick(), wait);
    // Housekeeping never keeps the process alive.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const round = this.runOnce().then(
      (result) => {
        if (result.ran && result.purged > 0) this.log.info({ event: "revocations_purged", purged: result.purged }, "expired revocations purged");
        else this.log.debug({ result }, "revocation purge round");
      },
      (error: unknown) => this.log.warn({ err: error }, "revocation purge failed; trying again next round"),
    ).then(() =>
      rekeyStaleUsernames(this.db).then(
        (rekeyed) => {
          if (rekeyed > 0) this.log.info({ event: "username_keys_remade", accounts: rekeyed }, "lookalike keys made anew for usernames an older replica registered");
        },
        (error: unknown) => this.log.warn({ err: error }, "remaking username keys failed; trying again next round"),
      ),
    );
    this.running = round;
    await round;
    this.running = undefined;
    this.schedule();
  }
}
