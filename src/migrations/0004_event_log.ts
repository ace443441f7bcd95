/**
 * The events in PostgreSQL when there is no Redis (src/domain-events/log-sink.ts, src/domain-events/log-subscribers.ts):
 *
 * - `events.position`: the order in which the relay published each event, given by the one
 *   leading relay in committed batches, so a reader that has seen position n has seen every
 *   event before it (an outbox id is taken at insert, and a later id may commit first).
 * - `event_cursors`: how far each consumer group (EVENTS_GROUP, one per service) has read.
 *   Published events are purged only once every group has read past them.
 * - `event_retries`: a subscriber's failed event, tried again with a growing backoff, then kept
 *   as a dead letter (dead_at) with its envelope.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create sequence events_position_seq`.execute(db);
  await db.schema.alterTable("events").addColumn("position", "bigint").execute();
  await db.schema.createIndex("events_position_idx").on("events").column("position").unique().where(sql.ref("position"), "is not", null).execute();
  await db.schema
    .createTable("event_cursors")
    .addColumn("group_name", "text", (col) => col.primaryKey())
    .addColumn("position", "bigint", (col) => col.notNull())
    .addColumn("updated_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable("event_retries")
    .addColumn("group_name", "text", (col) => col.notNull())
    .addColumn("subscriber", "text", (col) => col.notNull())
    .addColumn("event_id", "uuid", (col) => col.notNull())
    .addColumn("envelope", "jsonb", (col) => col.notNull())
    .addColumn("attempts", "integer", (col) => col.notNull())
    .addColumn("next_at", "timestamptz", (col) => col.notNull())
    .addColumn("problem", "text", (col) => col.notNull())
    .addColumn("dead_at", "timestamptz")
    .addPrimaryKeyConstraint("event_retries_pkey", ["group_name", "subscriber", "event_id"])
    .execute();
  await db.schema.createIndex("event_retries_due_idx").on("event_retries").columns(["group_name", "next_at"]).where(sql.ref("dead_at"), "is", null).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("event_retries").execute();
  await db.schema.dropTable("event_cursors").execute();
  await db.schema.alterTable("events").dropColumn("position").execute();
  await sql`drop sequence events_position_seq`.execute(db);
}
