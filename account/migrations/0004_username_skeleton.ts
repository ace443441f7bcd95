/**
 * Usernames unique by their confusable skeleton (usernameSkeleton in account/identifiers.ts),
 * so that no lookalike of a live account's username can be registered.
 *
 * Existing live accounts get the skeleton of their username, computed here in JavaScript, in
 * batches by id. Where several of them share a skeleton (legal until now: "admin" and a Cyrillic
 * "аdmin"), only the oldest (lowest id) keeps it and the others get null: they keep working and
 * keep their username, they just reserve nothing. Soft-deleted accounts reserve nothing anyway
 * (the index covers live accounts only) and stay null. Their username_normalized is left in the
 * old form (NFC + lower case), which Login still matches.
 */
import { sql, type Kysely } from "kysely";
import { usernameSkeleton } from "../identifiers.ts";

const BATCH = 1000;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").addColumn("username_skeleton", "text").execute();

  let after = 0;
  for (;;) {
    const rows: Array<{ id: number; username: string | null; username_normalized: string }> = await db
      .selectFrom("users")
      .select(["id", "username", "username_normalized"])
      .where("deleted_at", "is", null)
      .where("username_normalized", "is not", null)
      .where("id", ">", after)
      .orderBy("id")
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const values = rows.map((row) => sql`(${row.id}::integer, ${usernameSkeleton(row.username ?? row.username_normalized)})`);
    await sql`
      update users set username_skeleton = v.skeleton
      from (values ${sql.join(values)}) as v(id, skeleton)
      where users.id = v.id`.execute(db);
  }

  // The oldest live account of each skeleton keeps it.
  await sql`
    update users set username_skeleton = null
    where id in (
      select id from (
        select id, row_number() over (partition by username_skeleton order by id) as n
        from users where deleted_at is null and username_skeleton is not null
      ) ranked
      where n > 1
    )`.execute(db);

  await db.schema
    .createIndex("users_username_skeleton_live_key")
    .on("users")
    .column("username_skeleton")
    .unique()
    .where(sql.ref("deleted_at"), "is", null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("users_username_skeleton_live_key").execute();
  await db.schema.alterTable("users").dropColumn("username_skeleton").execute();
}
