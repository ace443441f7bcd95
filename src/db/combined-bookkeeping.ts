/**
 * Before the framework, the account module and an app each kept their own migrations, one
 * folder held them all, booked in kysely's default table `kysely_migration`. A database migrated
 * then keeps its history: each of those names is booked again under its owner's table
 * (src/db/migrator.ts), with its time, and the old table is renamed `kysely_migration_combined`.
 * Runs under the migration lock, before anything else.
 */
import { sql, type Kysely } from "kysely";
import type { Logger } from "../ops/logger.ts";

/** Each migration of the combined folder, and what it became: one or two migrations of their owners. */
const SPLIT: Record<string, Array<[owner: string, name: string]>> = {
  "0001_users": [["account", "0001_users"]],
  "0002_revocations": [["account", "0002_revocations"]],
  "0003_login_attempts": [["account", "0003_login_attempts"]],
  "0004_username_skeleton": [["account", "0004_username_skeleton"]],
  // It made the roles tables and the events outbox together.
  "0005_roles": [["account", "0005_roles"], ["framework", "0001_events"]],
  "0006_events_notify": [["framework", "0002_events_notify"]],
  "0007_handled_events": [["framework", "0003_handled_events"]],
  "0008_event_log": [["framework", "0004_event_log"]],
  "0009_username_keys": [["account", "0006_username_keys"]],
  "0010_handed_answers": [["framework", "0005_handed_answers"]],
};

export async function adoptCombinedBookkeeping(db: Kysely<any>, log: Logger): Promise<void> {
  const { rows: found } = await sql<{ exists: boolean }>`select to_regclass('kysely_migration') is not null as exists`.execute(db);
  if (!found[0]?.exists) return;
  const { rows } = await sql<{ name: string; timestamp: string }>`select name, timestamp from kysely_migration`.execute(db);
  const ours = rows.filter((r) => r.name in SPLIT);
  if (ours.length === 0) return; // an app's own table of that name: not ours to touch
  await db.transaction().execute(async (trx) => {
    for (const owner of new Set(Object.values(SPLIT).flat().map(([o]) => o))) {
      await sql`create table if not exists ${sql.table(`vera_${owner}_migration`)} (name varchar(255) not null primary key, timestamp varchar(255) not null)`.execute(trx);
    }
    for (const row of ours) {
      for (const [owner, name] of SPLIT[row.name]!) {
        await sql`insert into ${sql.table(`vera_${owner}_migration`)} (name, timestamp) values (${name}, ${row.timestamp}) on conflict do nothing`.execute(trx);
      }
    }
    await sql`alter table kysely_migration rename to kysely_migration_combined`.execute(trx);
    await sql`drop table if exists kysely_migration_lock`.execute(trx);
  });
  log.info({ migrations: ours.length }, "the combined migration history was booked under its owners (framework, account)");
}
