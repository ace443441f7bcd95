/**
 * Roles and who holds them (migrations/0005_roles.ts). A role grants permissions: `resource:action`
 * strings, `resource:*` for every action on a resource, `*` for everything (the built-in `admin`).
 * Granting and revoking each write their domain event (account/events.ts) in the same
 * transaction; revoking also moves the account's valid-after time, so every token minted before
 * it (carrying the role in its `roles` claim) stops working, as after a password change.
 */
import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.ts";
import { recordEvent } from "./events.ts";

export const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
export const PERMISSION = /^(\*|[a-z][a-z0-9_.-]{0,63}:(\*|[a-z][a-z0-9_.-]{0,63}))$/;
export const ADMIN_ROLE = "admin";

/** Whether `held` (permissions) includes `needed` (a `resource:action`). */
export function grants(held: readonly string[], needed: string): boolean {
  const resource = needed.slice(0, needed.indexOf(":"));
  return held.some((p) => p === "*" || p === needed || p === `${resource}:*`);
}

export interface RoleSummary {
  name: string;
  description: string;
  permissions: string[];
  holders: number;
}

/** Who acted: an account, or null for an operator command. */
export type Actor = number | null;

const actorOf = (actor: Actor) => (actor === null ? "operator" : `user:${actor}`);

export class Roles {
  constructor(private readonly db: Kysely<Database>) {}

  /** Creates the role or replaces its permissions (and description, when given). */
  async define(name: string, permissions: readonly string[], description?: string): Promise<"created" | "updated"> {
    const row = await this.db
      .insertInto("roles")
      .values({ name, permissions: [...new Set(permissions)], description: description ?? "" })
      .onConflict((oc) =>
        oc.column("name").doUpdateSet({
          permissions: (eb) => eb.ref("excluded.permissions"),
          ...(description !== undefined ? { description: (eb) => eb.ref("excluded.description") } : {}),
          updated_at: sql`now()`,
        }),
      )
      .returning(sql<boolean>`(xmax = 0)`.as("inserted"))
      .executeTakeFirstOrThrow();
    return row.inserted ? "created" : "updated";
  }

  async list(): Promise<RoleSummary[]> {
    const rows = await this.db
      .selectFrom("roles")
      .leftJoin("user_roles", "user_roles.role", "roles.name")
      .select(["roles.name", "roles.description", "roles.permissions", (eb) => eb.fn.count<string>("user_roles.user_id").as("holders")])
      .groupBy(["roles.name", "roles.description", "roles.permissions"])
      .orderBy("roles.name")
      .execute();
    return rows.map((r) => ({ name: r.name, description: r.description, permissions: r.permissions, holders: Number(r.holders) }));
  }

  /** The roles an account holds now, by name. */
  async rolesOf(userId: number): Promise<string[]> {
    const rows = await this.db.selectFrom("user_roles").select("role").where("user_id", "=", userId).orderBy("role").execute();
    return rows.map((r) => r.role);
  }

  /** The permissions the given roles grant now (their union, sorted). */
  async permissionsOfRoles(roles: readonly string[]): Promise<string[]> {
    if (roles.length === 0) return [];
    const rows = await this.db.selectFrom("roles").select("permissions").where("name", "in", roles).execute();
    return [...new Set(rows.flatMap((r) => r.permissions))].sort();
  }

  /** The roles an account holds now and the permissions they grant, in one query: read at every guarded call. */
  async holdings(userId: number): Promise<{ roles: string[]; permissions: string[] }> {
    const rows = await this.db
      .selectFrom("user_roles")
      .innerJoin("roles", "roles.name", "user_roles.role")
      .select(["user_roles.role", "roles.permissions"])
      .where("user_roles.user_id", "=", userId)
      .orderBy("user_roles.role")
      .execute();
    return { roles: rows.map((r) => r.role), permissions: [...new Set(rows.flatMap((r) => r.permissions))].sort() };
  }

  /** The permissions an account holds now, through its roles. */
  async permissionsOf(userId: number): Promise<string[]> {
    return (await this.holdings(userId)).permissions;
  }

  /** Grants a role; exactly one of concurrent grants of the same role wins. */
  async grant(userId: number, role: string, by: Actor): Promise<"granted" | "held" | "no such role"> {
    return this.db.transaction().execute(async (trx) => {
      // Locks the role against a concurrent delete until the grant commits.
      const exists = await trx.selectFrom("roles").select("name").where("name", "=", role).forShare().executeTakeFirst();
      if (!exists) return "no such role";
      const inserted = await trx
        .insertInto("user_roles")
        .values({ user_id: userId, role, granted_by: by })
        .onConflict((oc) => oc.columns(["user_id", "role"]).doNothing())
        .returning("role")
        .executeTakeFirst();
      if (!inserted) return "held";
      await recordEvent(trx, { type: "role.assigned", subject: `user:${userId}`, actor: actorOf(by), resource: `role:${role}`, data: { user_id: userId, role } });
      return "granted";
    });
  }

  /** Revokes a role, and with it every token of the account minted until now. */
  async revoke(userId: number, role: string, by: Actor): Promise<"revoked" | "not held" | "no such role"> {
    return this.db.transaction().execute(async (trx) => {
      const deleted = await trx.deleteFrom("user_roles").where("user_id", "=", userId).where("role", "=", role).returning("role").executeTakeFirst();
      if (!deleted) return (await trx.selectFrom("roles").select("name").where("name", "=", role).executeTakeFirst()) ? "not held" : "no such role";
      await trx.updateTable("users").set({ tokens_valid_after: new Date(), updated_at: sql`now()` }).where("id", "=", userId).execute();
      await recordEvent(trx, { type: "role.revoked", subject: `user:${userId}`, actor: actorOf(by), resource: `role:${role}`, data: { user_id: userId, role } });
      return "revoked";
    });
  }
}
