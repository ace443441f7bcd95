/**
 * Usernames' lookalike keys, version 2 (account/identifiers.ts): every nonspacing mark leaves
 * the key, not only those of Script=Inherited, and a second key, the skeleton of the name as it
 * shows before case is folded (users.username_cased_skeleton), so a capital I meets an l. Both
 * unique among live accounts. Every live account gets both keys made anew; where two come to
 * share one, the oldest keeps it and the others reserve nothing by it: they keep their username
 * and keep logging in as typed (account/username-keys.ts). username_keys_version says which
 * rules made a row's keys: a replica of an older version registering meanwhile leaves it empty,
 * and the housekeeping round makes its keys later.
 */
import { sql, type Kysely } from "kysely";
import { rekeyAllUsernames } from "../username-keys.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").addColumn("username_cased_skeleton", "text").addColumn("username_keys_version", "smallint").execute();
  await db.schema.dropIndex("users_username_skeleton_live_key").execute();
  await rekeyAllUsernames(db);
  for (const [index, column] of [
    ["users_username_skeleton_live_key", "username_skeleton"],
    ["users_username_cased_skeleton_live_key", "username_cased_skeleton"],
  ] as const) {
    await db.schema.createIndex(index).on("users").column(column).unique().where(sql.ref("deleted_at"), "is", null).execute();
  }
  // What the housekeeping round looks for: live accounts whose keys are of an older version.
  await sql`create index users_username_keys_version_idx on users ((coalesce(username_keys_version, 0)))
    where username_normalized is not null and deleted_at is null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("users_username_keys_version_idx").execute();
  await db.schema.dropIndex("users_username_cased_skeleton_live_key").execute();
  await db.schema.alterTable("users").dropColumn("username_cased_skeleton").dropColumn("username_keys_version").execute();
}
