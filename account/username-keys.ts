/**
 * The stored lookalike keys of usernames (users.username_skeleton and username_cased_skeleton,
 * account/identifiers.ts), made again when their rules change (USERNAME_KEYS_VERSION):
 *
 * - every live account at once, by the migration that brings a new version
 *   (account/migrations/0006_username_keys.ts: rekeyAllUsernames): where two accounts come to share a
 *   key, the oldest keeps it and the others reserve nothing by it (they keep their username and
 *   keep logging in as typed);
 * - accounts a replica of an older version registered after that migration ran (a rolling
 *   deploy), a few at a time, by the housekeeping round (account/purge.ts:
 *   rekeyStaleUsernames): a key another live account holds stays empty on the newer account.
 */
import { sql, type Kysely } from "kysely";
import { isUniqueViolation } from "vera-service";
import { USERNAME_KEYS_VERSION, usernameCasedSkeleton, usernameSkeleton } from "./identifiers.ts";
import type { Database } from "./schema.ts";

const BATCH = 1000;
const KEYS = ["username_skeleton", "username_cased_skeleton"] as const;

function keysOf(row: { username: string | null; username_normalized: string }) {
  const name = row.username ?? row.username_normalized;
  return { username_skeleton: usernameSkeleton(name), username_cased_skeleton: usernameCasedSkeleton(name) };
}

/** Every live account with a username gets the current keys; the unique indexes must be dropped meanwhile. */
export async function rekeyAllUsernames(db: Kysely<any>): Promise<void> {
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
    const values = rows.map((row) => {
      const keys = keysOf(row);
      return sql`(${row.id}::integer, ${keys.username_skeleton}, ${keys.username_cased_skeleton})`;
    });
    await sql`
      update users set username_skeleton = v.skeleton, username_cased_skeleton = v.cased, username_keys_version = ${USERNAME_KEYS_VERSION}
      from (values ${sql.join(values)}) as v(id, skeleton, cased)
      where users.id = v.id`.execute(db);
  }
  // The oldest live account of each key keeps it.
  for (const key of KEYS) {
    await sql`
      update users set ${sql.ref(key)} = null
      where id in (
        select id from (
          select id, row_number() over (partition by ${sql.ref(key)} order by id) as n
          from users where deleted_at is null and ${sql.ref(key)} is not null
        ) ranked
        where n > 1
      )`.execute(db);
  }
}

/**
 * Live accounts whose keys are of an older version (or none): at most `limit` of them get the
 * current keys, each without a key another live account holds. Returns how many it did.
 */
export async function rekeyStaleUsernames(db: Kysely<Database>, limit = 100): Promise<number> {
  const rows = await db
    .selectFrom("users")
    .select(["id", "username", "username_normalized"])
    .where("deleted_at", "is", null)
    .where("username_normalized", "is not", null)
    .where(sql<number>`coalesce(username_keys_version, 0)`, "<", USERNAME_KEYS_VERSION)
    .orderBy("id")
    .limit(limit)
    .execute();
  for (const row of rows) {
    const keys = keysOf(row as { id: number; username: string | null; username_normalized: string });
    // A concurrent registration may take a key between the look and the update: look again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const holders = await db
        .selectFrom("users")
        .select(["username_skeleton", "username_cased_skeleton"])
        .where("deleted_at", "is", null)
        .where("id", "<>", row.id)
        .where((eb) => eb.or([eb("username_skeleton", "=", keys.username_skeleton), eb("username_cased_skeleton", "=", keys.username_cased_skeleton)]))
        .execute();
      const free = {
        username_skeleton: holders.some((h) => h.username_skeleton === keys.username_skeleton) ? null : keys.username_skeleton,
        username_cased_skeleton: holders.some((h) => h.username_cased_skeleton === keys.username_cased_skeleton) ? null : keys.username_cased_skeleton,
      };
      try {
        await db.updateTable("users").set({ ...free, username_keys_version: USERNAME_KEYS_VERSION }).where("id", "=", row.id).execute();
        break;
      } catch (error) {
        if (!isUniqueViolation(error) || attempt === 2) throw error;
      }
    }
  }
  return rows.length;
}
