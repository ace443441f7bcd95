/**
 * Wakes the events relay (src/domain-events/relay.ts) when events commit: a NOTIFY per inserting
 * statement, delivered by PostgreSQL at commit (never for a rolled-back change). The relay also
 * polls, so a lost notification only delays an event.
 */
import { sql, type Kysely } from "kysely";
import { EVENTS_CHANNEL } from "../domain-events/channel.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create function events_notify() returns trigger language plpgsql as $$
    begin perform pg_notify(${sql.lit(EVENTS_CHANNEL)}, ''); return null; end $$`.execute(db);
  await sql`create trigger events_notify after insert on events for each statement execute function events_notify()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger events_notify on events`.execute(db);
  await sql`drop function events_notify()`.execute(db);
}
