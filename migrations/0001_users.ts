/**
 * Accounts. Identifiers are unique among live accounts only (partial unique indexes), so a
 * soft-deleted account frees its username, email and phone for a new one.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "integer", (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("username", "text")
    .addColumn("username_normalized", "text")
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("email", "text")
    .addColumn("email_normalized", "text")
    .addColumn("phone_number", "text")
    .addColumn("password_digest", "text", (col) => col.notNull())
    .addColumn("tokens_valid_after", "timestamptz")
    .addColumn("created_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn("deleted_at", "timestamptz")
    .addCheckConstraint("users_identifier_present", sql`username_normalized is not null or email_normalized is not null`)
    .execute();

  for (const [index, column] of [
    ["users_username_live_key", "username_normalized"],
    ["users_email_live_key", "email_normalized"],
    ["users_phone_live_key", "phone_number"],
  ] as const) {
    await db.schema.createIndex(index).on("users").column(column).unique().where(sql.ref("deleted_at"), "is", null).execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("users").execute();
}
