/**
 * Which subscriber has handled which event (src/domain-events/subscribers.ts): delivery is at least
 * once, so a handler is skipped for an event it has handled already.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("handled_events")
    .addColumn("subscriber", "text", (col) => col.notNull())
    .addColumn("event_id", "uuid", (col) => col.notNull())
    .addColumn("handled_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("handled_events_pkey", ["subscriber", "event_id"])
    .execute();
  await db.schema.createIndex("handled_events_handled_at_idx").on("handled_events").column("handled_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("handled_events").execute();
}
