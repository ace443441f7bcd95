/**
 * Answers a draining replica hands to the others (src/plugboard/handover.ts): it leaves the
 * plugboard's channel once, and a replica still joined sends what it finished afterwards. A row
 * lives a few ms, at most the plugboard's 30 s.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("handed_answers")
    .addColumn("ref", "text", (col) => col.primaryKey())
    .addColumn("answer", "text", (col) => col.notNull())
    .addColumn("handed_at", "timestamptz", (col) => col.notNull().defaultTo(sql`clock_timestamp()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("handed_answers").execute();
}
