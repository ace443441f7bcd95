/**
 * Revoked tokens, keyed on their jti (never on the token text: a signature can be re-encoded
 * and still verify). A row may go once its token has expired.
 */
import { sql, type Kysely } from "kysely";
import { adoptPyRevocations, pyRevision } from "../py-adoption.ts";

export async function up(db: Kysely<any>): Promise<void> {
  // A Vera-Py-Service database has it already (account/py-adoption.ts).
  if ((await pyRevision(db)) !== undefined) return adoptPyRevocations(db);
  await db.schema
    .createTable("revocations")
    .addColumn("jti", "uuid", (col) => col.primaryKey())
    .addColumn("user_id", "integer", (col) => col.references("users.id"))
    .addColumn("expires_at", "timestamptz", (col) => col.notNull())
    .addColumn("created_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex("revocations_expires_at_idx").on("revocations").column("expires_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("revocations").execute();
}
