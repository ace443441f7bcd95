/**
 * The login throttle: one row per attempt that counts against an identifier, shared by every
 * replica. Rows older than the window are deleted as logins come by.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("login_attempts")
    .addColumn("id", "bigint", (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("identifier", "text", (col) => col.notNull())
    .addColumn("attempted_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex("login_attempts_identifier_idx").on("login_attempts").columns(["identifier", "attempted_at"]).execute();
  await db.schema.createIndex("login_attempts_attempted_at_idx").on("login_attempts").column("attempted_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("login_attempts").execute();
}
