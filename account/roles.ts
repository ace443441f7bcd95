/**
 * Roles and who holds them (account/migrations/0005_roles.ts). A role grants permissions: `resource:action`
 * strings, `resource:*` for every action on a resource, `*` for everything (the built-in `admin`).
 * Granting and revoking each write their domain event (src/domain-events/record.ts) in the same
 * transaction; revoking also moves the account's valid-after time, so every token minted before
 * it (carrying the role in its `roles` claim) stops working, as after a password change.
 *
 * Delegated administration never escalates (Kubernetes RBAC's escalation rule): an account may
 * grant or revoke a role only when it holds every permission the role grants, and no action
 * takes `*` from the last live account that holds it. The operator (an Actor of null: the roles
 * command) is bound by neither.
 */
import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.ts";
import { recordEvent } from "vera-service";

export const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
export const PERMISSION = /^(\*|[a-z][a-z0-9_.-]{0,63}:(\*|[a-z][a-z0-9_.-]{0,63}))$/;
export const ADMIN_ROLE = "admin";

/** Whether `held` (permissions) includes `needed` (a `resource:action`, a `resource:*`, or `*`). */
export function grants(held: readonly string[], needed: string): boolean {
  const resource = needed.slice(0, needed.indexOf(":"));
  return held.some((p) => p === "*" || p === needed || p === `${resource}:*`);
}

/** The first permission a role grants that `held` does not cover: what keeps its holder from handing the role out. */
export function missingPermission(held: readonly string[], granted: readonly string[]): string | undefined {
  return granted.find((p) => !grants(held, p));
}

/** What refuses an account's grant or revocation: a permission of the role it lacks, or `*` kept by its last holder. */
export type RoleChangeRefusal = { refused: "missing permission"; permission: string } | { refused: "last holder of *" };

/** Serializes the changes that could leave no live account holding `*` (revocations of it, deletions of its holders). */
const STAR_HOLDERS_LOCK = sql`select pg_advisory_xact_lock(hashtextextended('vera-service:accounts holding *', 0))`;

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

  /**
   * Grants a role; exactly one of concurrent grants of the same role wins. An account (`by` not
   * null) must hold every permission the role grants.
   */
  async grant(userId: number, role: string, by: Actor): Promise<"granted" | "held" | "no such role" | RoleChangeRefusal> {
    return this.db.transaction().execute(async (trx) => {
      // Locks the role against a concurrent delete or redefinition until the grant commits.
      const found = await trx.selectFrom("roles").select("permissions").where("name", "=", role).forShare().executeTakeFirst();
      if (!found) return "no such role";
      const refusal = await escalation(trx, by, found.permissions);
      if (refusal) return refusal;
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

  /**
   * Revokes a role, and with it every token of the account minted until now. An account (`by` not
   * null) must hold every permission the role grants, and may not take `*` from its last live holder.
   */
  async revoke(userId: number, role: string, by: Actor): Promise<"revoked" | "not held" | "no such role" | RoleChangeRefusal> {
    const lastHolder = Symbol("last holder of *");
    try {
      return await this.db.transaction().execute(async (trx) => {
        const found = await trx.selectFrom("roles").select("permissions").where("name", "=", role).forShare().executeTakeFirst();
        if (!found) return "no such role";
        const refusal = await escalation(trx, by, found.permissions);
        if (refusal) return refusal;
        const star = found.permissions.includes("*");
        if (star) await STAR_HOLDERS_LOCK.execute(trx);
        const deleted = await trx.deleteFrom("user_roles").where("user_id", "=", userId).where("role", "=", role).returning("role").executeTakeFirst();
        if (!deleted) return "not held";
        // Undone (the transaction rolls back) when it left no live account holding `*`.
        if (star && by !== null && (await starHolders(trx)) === 0) throw lastHolder;
        await trx.updateTable("users").set({ tokens_valid_after: new Date(), updated_at: sql`now()` }).where("id", "=", userId).execute();
        await recordEvent(trx, { type: "role.revoked", subject: `user:${userId}`, actor: actorOf(by), resource: `role:${role}`, data: { user_id: userId, role } });
        return "revoked";
      });
    } catch (error) {
      if (error === lastHolder) return { refused: "last holder of *" };
      throw error;
    }
  }

  /** Live accounts that hold `*` through some role. */
  starHolders(): Promise<number> {
    return starHolders(this.db);
  }
}

/**
 * Whether deleting the account would leave no live account holding `*`: asked inside the
 * deletion's transaction (account/users.ts), under the same lock as a revocation of `*`.
 */
export async function isLastStarHolder(trx: Kysely<Database>, userId: number): Promise<boolean> {
  await STAR_HOLDERS_LOCK.execute(trx);
  const holders = await trx
    .selectFrom("user_roles")
    .innerJoin("roles", "roles.name", "user_roles.role")
    .innerJoin("users", "users.id", "user_roles.user_id")
    .select("user_roles.user_id")
    .distinct()
    .where(sql<boolean>`'*' = any(roles.permissions)`)
    .where("users.deleted_at", "is", null)
    .limit(2)
    .execute();
  return holders.length === 1 && holders[0]!.user_id === userId;
}

/** The escalation rule for an account acting (an operator, `by` null, is not bound by it). */
async function escalation(trx: Kysely<Database>, by: Actor, granted: readonly string[]): Promise<RoleChangeRefusal | undefined> {
  if (by === null) return undefined;
  const held = await trx
    .selectFrom("user_roles")
    .innerJoin("roles", "roles.name", "user_roles.role")
    .select("roles.permissions")
    .where("user_roles.user_id", "=", by)
    .execute();
  const permission = missingPermission(held.flatMap((r) => r.permissions), granted);
  return permission === undefined ? undefined : { refused: "missing permission", permission };
}

async function starHolders(db: Kysely<Database>): Promise<number> {
  const { count } = await db
    .selectFrom("user_roles")
    .innerJoin("roles", "roles.name", "user_roles.role")
    .innerJoin("users", "users.id", "user_roles.user_id")
    .select((eb) => eb.fn.count<string>("user_roles.user_id").distinct().as("count"))
    .where(sql<boolean>`'*' = any(roles.permissions)`)
    .where("users.deleted_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(count);
}
