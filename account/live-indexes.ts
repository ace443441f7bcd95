/**
 * The accounts' identifiers are unique among live accounts only (partial unique indexes), so a
 * soft-deleted account frees its username, email and phone: made by account/migrations/0001_users.ts on
 * a new database, and by the take-over of a Vera-Py-Service one (account/py-adoption.ts).
 */
import { sql, type Kysely } from "kysely";

export async function createLiveIdentifierIndexes(db: Kysely<any>): Promise<void> {
  for (const [index, column] of [
    ["users_username_live_key", "username_normalized"],
    ["users_email_live_key", "email_normalized"],
    ["users_phone_live_key", "phone_number"],
  ] as const) {
    await db.schema.createIndex(index).on("users").column(column).unique().where(sql.ref("deleted_at"), "is", null).execute();
  }
}
