/**
 * `events` is the transactional outbox of domain events (src/domain-events/): a change and its
 * event commit together, or neither does. Rows wait there until a relay publishes them
 * (published_at). The framework's own table: an app's module writes its events here.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("events")
    .addColumn("id", "bigserial", (col) => col.primaryKey())
    .addColumn("event_id", "uuid", (col) => col.notNull().unique())
    .addColumn("event_type", "text", (col) => col.notNull())
    .addColumn("subject", "text", (col) => col.notNull())
    .addColumn("envelope", "jsonb", (col) => col.notNull())
    .addColumn("created_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn("published_at", "timestamptz")
    .execute();
  await db.schema.createIndex("events_unpublished_idx").on("events").column("id").where(sql.ref("published_at"), "is", null).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("events").execute();
}
