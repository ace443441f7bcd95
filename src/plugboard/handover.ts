/**
 * Answers handed over between replicas, so a draining replica leaves the plugboard's channel
 * once. The Vera Plugboard matches an answer to its waiting caller by ref in a table kept per
 * service (docs/protocol.md), so any joined replica of the service may send it. A replica that
 * has left gives the answers it finished afterwards to the others through PostgreSQL
 * (`handed_answers`, src/migrations/0005_handed_answers.ts, and a NOTIFY); a joined replica takes
 * each one (exactly one replica does: the row is deleted as it is taken) and sends it on its own
 * channel. What nobody takes in time the giver takes back (again by deleting the rows, so never
 * both) and delivers itself.
 */
import type pg from "pg";
import { sql, type Kysely } from "kysely";
import { listeningSession } from "../domain-events/pg-session.ts";
import type { Logger } from "../ops/logger.ts";
import { PLUGBOARD_REQUEST_TIMEOUT_MS } from "./wire.ts";

const CHANNEL = "vera_handed_answers";
/** How often a taker looks without a notification (a notification lost with a connection). */
const SWEEP_MS = 1_000;
/** How often a giver looks whether its answers were taken. */
const CHECK_MS = 20;
const BATCH = 100;

export interface HandedAnswer {
  ref: string;
  /** The answer's wire text. */
  text: string;
}

/** Where taken answers go: a joined replica's own channel. */
export interface Taker {
  /** Whether this replica could send an answer now (joined, not draining): otherwise nothing is taken. */
  canSend(): boolean;
  /** Sends an answer taken over (held for the rejoin should the channel go meanwhile). */
  send(answer: HandedAnswer): void;
}

export class Handover {
  private session: pg.Client | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private taking = false;
  private again = false;
  private taker: Taker | undefined;

  constructor(
    private readonly db: Kysely<any>,
    private readonly databaseUrl: string,
    private readonly log: Logger,
  ) {}

  /** Takes what other replicas hand over, while `taker` can send. */
  async startTaking(taker: Taker): Promise<void> {
    this.taker = taker;
    this.session = await listeningSession(this.databaseUrl, CHANNEL, () => void this.take());
    this.sweep = setInterval(() => void this.take(), SWEEP_MS);
    this.sweep.unref();
  }

  /** Stops taking (a drain: from its leave on, this replica gives). */
  async stopTaking(): Promise<void> {
    this.taker = undefined;
    clearInterval(this.sweep);
    await this.session?.end().catch(() => undefined);
    this.session = undefined;
  }

  /**
   * Hands `answers` to the other replicas and waits up to `withinMs` for them to be taken.
   * Resolves with the ones nobody took, which are this replica's again (and only its).
   */
  async give(answers: HandedAnswer[], withinMs: number): Promise<HandedAnswer[]> {
    if (answers.length === 0) return [];
    const refs = answers.map((a) => a.ref);
    await sql`insert into handed_answers (ref, answer) select * from unnest(${refs}::text[], ${answers.map((a) => a.text)}::text[]) on conflict (ref) do nothing`.execute(this.db);
    await sql`select pg_notify(${CHANNEL}, '')`.execute(this.db);
    const giveUpAt = Date.now() + withinMs;
    while (Date.now() < giveUpAt) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from handed_answers where ref = any(${refs}::text[])`.execute(this.db);
      if (rows[0]!.n === 0) return [];
      await new Promise((resolve) => setTimeout(resolve, CHECK_MS));
    }
    const { rows } = await sql<{ ref: string }>`delete from handed_answers where ref = any(${refs}::text[]) returning ref`.execute(this.db);
    const mine = new Set(rows.map((r) => r.ref));
    return answers.filter((a) => mine.has(a.ref));
  }

  /** Takes handed answers while `send` accepts them, a batch at a time. */
  private async take(): Promise<void> {
    if (this.taking) {
      this.again = true;
      return;
    }
    this.taking = true;
    try {
      do {
        this.again = false;
        // Not joined now: leave them to another replica.
        if (!this.taker?.canSend()) return;
        // One round trip (the sweep runs every second on every replica): the answers older than
        // the plugboard's 30 s go (their callers were answered 408 already), the others are taken.
        const { rows } = await sql<{ ref: string; answer: string }>`
          with expired as (delete from handed_answers where handed_at < clock_timestamp() - make_interval(secs => ${PLUGBOARD_REQUEST_TIMEOUT_MS / 1000}))
          delete from handed_answers where ref in (
            select ref from handed_answers where handed_at >= clock_timestamp() - make_interval(secs => ${PLUGBOARD_REQUEST_TIMEOUT_MS / 1000})
            order by handed_at limit ${BATCH} for update skip locked)
          returning ref, answer`.execute(this.db);
        for (const row of rows) this.taker?.send({ ref: row.ref, text: row.answer });
        if (rows.length === BATCH) this.again = true;
      } while (this.again);
    } catch (error) {
      this.log.warn({ err: error }, "taking handed-over answers failed; trying again");
    } finally {
      this.taking = false;
    }
  }
}
