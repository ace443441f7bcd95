/**
 * Accounts. Identifiers are unique among live accounts only (partial unique indexes), so a
 * soft-deleted account frees its username, email and phone for a new one.
 *
 * On a Vera-Py-Service database the table exists already: it is taken over in place
 * (account/py-adoption.ts), or, when some rows cannot be accepted as they are, the migration
 * stops with a report naming them (`npm run migrate -- --check` prints it without changing anything).
 */
import { sql, type Kysely } from "kysely";
import { adoptPyUsers, pyAdoptionProblems, pyRevision } from "../py-adoption.ts";
import { createLiveIdentifierIndexes } from "../live-indexes.ts";

export async function check(db: Kysely<any>): Promise<string[]> {
  try {
    return (await pyRevision(db)) === undefined ? [] : await pyAdoptionProblems(db);
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}

export async function up(db: Kysely<any>): Promise<void> {
  if ((await pyRevision(db)) !== undefined) return adoptPyUsers(db);
  await db.schema
    .createTable("users")
    .addColumn("id", "integer", (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("username", "text")
    .addColumn("username_normalized", "text")
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("email", "text")
    .addColumn("email_normalized", "text")
    .addColumn("phone_number", "text")
    .addColumn("password_digest", "text", (col) => col.notNull())
    .addColumn("tokens_valid_after", "timestamptz")
    .addColumn("created_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn("deleted_at", "timestamptz")
    .addCheckConstraint("users_identifier_present", sql`username_normalized is not null or email_normalized is not null`)
    .execute();

  await createLiveIdentifierIndexes(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("users").execute();
}
