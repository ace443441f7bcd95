/**
 * Roles and who holds them (account/roles.ts). Each change writes a domain event to the
 * framework's outbox (src/migrations/0001_events.ts), in the same transaction.
 *
 * A role is a name and the permissions it grants: `resource:action` strings, `resource:*` for
 * every action on a resource, `*` for everything. The built-in `admin` role grants `*`. An
 * assignment records who granted it (null: an operator command) and when.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("roles")
    .addColumn("name", "text", (col) => col.primaryKey().check(sql`name ~ '^[a-z][a-z0-9_-]{0,63}$'`))
    .addColumn("description", "text", (col) => col.notNull().defaultTo(""))
    .addColumn("permissions", sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn("created_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable("user_roles")
    .addColumn("user_id", "integer", (col) => col.notNull().references("users.id").onDelete("cascade"))
    .addColumn("role", "text", (col) => col.notNull().references("roles.name").onDelete("cascade").onUpdate("cascade"))
    .addColumn("granted_by", "integer", (col) => col.references("users.id").onDelete("set null"))
    .addColumn("granted_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("user_roles_pkey", ["user_id", "role"])
    .execute();
  await db.schema.createIndex("user_roles_role_idx").on("user_roles").column("role").execute();
  await db.insertInto("roles").values({ name: "admin", description: "Every permission", permissions: sql`'{*}'::text[]` }).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("user_roles").execute();
  await db.schema.dropTable("roles").execute();
}
