/**
 * Revoked tokens by jti. Revoking is one statement that is safe under races: of two logouts
 * of the same token, exactly one inserts the row.
 */
import { recordEvent } from "vera-service";
import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.ts";

export class Revocations {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records the jti; false when it was already revoked. */
  async revoke(token: { jti: string; userId: number | null; expiresAt: Date }): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto("revocations")
        .values({ jti: token.jti, user_id: token.userId, expires_at: token.expiresAt })
        .onConflict((oc) => oc.column("jti").doNothing())
        .returning("jti")
        .executeTakeFirst();
      if (inserted === undefined) return false;
      await recordEvent(trx, { type: "session.revoked", subject: token.userId === null ? "user:unknown" : `user:${token.userId}`, data: { user_id: token.userId, jti: token.jti } });
      return true;
    });
  }

  async isRevoked(jti: string): Promise<boolean> {
    const row = await this.db.selectFrom("revocations").select("jti").where("jti", "=", jti).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Deletes revocations whose token expired more than `graceSeconds` ago (the clock skew a
   * verifier allows), at most `limit` rows per call; returns how many went.
   */
  async purgeExpired(graceSeconds: number, limit = 1000): Promise<number> {
    const result = await this.db
      .deleteFrom("revocations")
      .where(
        "jti",
        "in",
        this.db
          .selectFrom("revocations")
          .select("jti")
          .where("expires_at", "<", sql<Date>`now() - make_interval(secs => ${graceSeconds})`)
          .limit(limit),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
