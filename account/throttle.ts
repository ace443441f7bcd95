/**
 * The login throttle, kept in PostgreSQL so every replica counts the same attempts. Each login
 * first reserves an attempt for its identifier; a failure leaves the reservation in place as the
 * failure record, a success removes it. Once an identifier holds LOGIN_MAX_FAILURES attempts in
 * the last LOGIN_WINDOW_SECONDS, further attempts are refused (the right password too) until the
 * oldest ones age out. Reserving under a per-identifier advisory lock keeps a burst of parallel
 * guesses, on any number of replicas, from slipping past the count.
 */
import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.ts";

export interface ThrottleOptions {
  maxFailures: number;
  windowSeconds: number;
  /** Chance that an attempt also sweeps expired rows of every identifier (default 1 %). */
  sweepProbability?: number;
  /**
   * The most rows of unknown identifiers kept (default 100,000): a sweep drops the oldest beyond it. Only a flood of
   * distinct unknown identifiers could get there, and it is already slowed to the bcrypt lane's
   * pace (account/passwords.ts), so in practice the window empties the table first.
   */
  maxRows?: number;
}

const DEFAULT_THROTTLE_MAX_ROWS = 100_000;

export type Reservation = { throttled: true } | { throttled: false; attemptId: string };

export class LoginThrottle {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: ThrottleOptions,
  ) {}

  /** Reserves one attempt for `identifier`, or says it is throttled. */
  async reserve(identifier: string): Promise<Reservation> {
    const window = sql<Date>`now() - make_interval(secs => ${this.options.windowSeconds})`;
    const reservation = await this.db.transaction().execute(async (trx): Promise<Reservation> => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${identifier}, 0))`.execute(trx);
      // This identifier's expired rows go, and the attempt is counted and inserted, in one
      // statement after the lock (a statement of its own, so it sees what the lock's previous
      // holder committed). No row back means throttled.
      const { rows } = await sql<{ id: string }>`
        with expired as (delete from login_attempts where identifier = ${identifier} and attempted_at <= ${window})
        insert into login_attempts (identifier)
        select ${identifier}
        where (select count(*) from login_attempts where identifier = ${identifier} and attempted_at > ${window}) < ${this.options.maxFailures}
        returning id`.execute(trx);
      const inserted = rows[0];
      return inserted ? { throttled: false, attemptId: inserted.id } : { throttled: true };
    });
    if (Math.random() < (this.options.sweepProbability ?? 0.01)) await this.sweep();
    return reservation;
  }

  /** The attempt succeeded: it no longer counts. */
  async release(attemptId: string): Promise<void> {
    await this.db.deleteFrom("login_attempts").where("id", "=", attemptId).execute();
  }

  /** Deletes expired rows of every identifier (a batch at a time) and any beyond maxRows; returns how many went. */
  async sweep(limit = 1000): Promise<number> {
    const window = sql<Date>`now() - make_interval(secs => ${this.options.windowSeconds})`;
    const expired = await this.db
      .deleteFrom("login_attempts")
      .where("id", "in", this.db.selectFrom("login_attempts").select("id").where("attempted_at", "<=", window).limit(limit))
      .executeTakeFirst();
    // Ids grow with time, so the newest maxRows rows are the ones above the maxRows-th id from the
    // top. Only rows of identifiers that name no account go: a flood of made-up names must not
    // wipe the failures counted against a real account.
    const anonymous = (qb: typeof this.db) => qb.selectFrom("login_attempts").where("identifier", "not like", "account:%");
    const oldestKept = anonymous(this.db)
      .select("id")
      .orderBy("id", "desc")
      .offset((this.options.maxRows ?? DEFAULT_THROTTLE_MAX_ROWS) - 1)
      .limit(1);
    const surplus = await this.db
      .deleteFrom("login_attempts")
      .where("identifier", "not like", "account:%")
      .where("id", "<", oldestKept)
      .executeTakeFirst();
    return Number(expired.numDeletedRows) + Number(surplus.numDeletedRows);
  }
}
