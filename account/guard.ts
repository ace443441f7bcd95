/**
 * The sign-in guard, a middleware like any other (src/actions/middleware.ts). An action that
 * lists `signedIn` in `use` gets a required `jwt` field in its published schema, and the token is
 * checked before `run`: signature and claims, account alive, issued after the account's
 * valid-after time, not revoked. `run` then finds the account in `ctx.user` and the token's
 * claims in `ctx.claims` (typed: `Context<SignedIn>`); otherwise the caller gets
 * `401 "Invalid token: <reason>"` and `run` never starts.
 */
import { z } from "zod/v4";
import type { Context } from "vera-service";
import { middleware } from "vera-service";
import { forbidden, unauthorized, type ActionResponse } from "vera-service";
import type { User } from "./schema.ts";
import { accounts } from "./accounts.ts";
import { authenticate } from "./authenticate.ts";
import { OUTER_BOUNDS } from "./limits.ts";
import { ACCOUNT_MESSAGES } from "./messages.ts";
import type { TokenClaims } from "./tokens.ts";
import { grants, type Roles } from "./roles.ts";

/** The field a guarded action receives its token in. */
export const JWT_FIELD = "jwt";

/** What the guard adds to the context. */
export interface SignedIn {
  /** The signed-in account (the whole row: never answer it as is). */
  user: User;
  /** The verified claims of its token (jti, sub, iat, exp, …). */
  claims: TokenClaims;
}

/** The context of an action behind the guard. */
export type SignedInContext = Context<SignedIn>;

/** The token field every guard publishes. */
const TOKEN_FIELD = { [JWT_FIELD]: z.string().min(1).max(OUTER_BOUNDS.jwt).describe("Your token") };

export const signedIn = middleware<SignedIn>({
  name: "signedIn",
  fields: TOKEN_FIELD,
  needs: [accounts],
  async handle({ fields, ctx }, next) {
    const auth = await authenticate(ctx.get(accounts), String(fields[JWT_FIELD]));
    if (!auth.ok) return unauthorized(ACCOUNT_MESSAGES.invalidToken(auth.reason));
    return next({ user: auth.user, claims: auth.claims });
  },
});

/** What a permission or role guard adds: the signed-in account, and the permissions it holds now. */
export interface Permitted extends SignedIn {
  /** Read from the database at this call: a role revoked a moment ago is gone already. */
  permissions: string[];
}

/** The context of an action behind requirePermission or requireRole. */
export type PermittedContext = Context<Permitted>;

/**
 * The sign-in guard plus a permission: `use: [requirePermission("roles:assign")]`. The token is
 * checked as signedIn checks it (401), then the account's current permissions are read from the
 * database — never from the token's claim, which may be older than a revocation — and an account
 * without the permission gets `403 "Forbidden: roles:assign required"`. With the database down
 * the check throws, and the caller gets 503: never a pass.
 */
export function requirePermission(permission: string) {
  return permissionGuard(`requirePermission(${permission})`, async (roles, userId) => {
    const permissions = await roles.permissionsOf(userId);
    return grants(permissions, permission) ? { permissions } : forbidden(ACCOUNT_MESSAGES.forbiddenPermission(permission));
  });
}

/** The same for a role by name: `use: [requireRole("admin")]`; `403 "Forbidden: role admin required"`. */
export function requireRole(role: string) {
  return permissionGuard(`requireRole(${role})`, async (roles, userId) => {
    const held = await roles.holdings(userId);
    return held.roles.includes(role) ? { permissions: held.permissions } : forbidden(ACCOUNT_MESSAGES.forbiddenRole(role));
  });
}

/** A guard that signs the caller in, then lets `check` allow them (with their permissions) or answer instead. */
function permissionGuard(name: string, check: (roles: Roles, userId: number) => Promise<{ permissions: string[] } | ActionResponse>) {
  return middleware<Permitted>({
    name,
    fields: TOKEN_FIELD,
    needs: [accounts],
    async handle({ fields, ctx }, next) {
      const services = ctx.get(accounts);
      const auth = await authenticate(services, String(fields[JWT_FIELD]));
      if (!auth.ok) return unauthorized(ACCOUNT_MESSAGES.invalidToken(auth.reason));
      const allowed = await check(services.roles, auth.user.id);
      if (!("permissions" in allowed)) return allowed;
      return next({ user: auth.user, claims: auth.claims, permissions: allowed.permissions });
    },
  });
}
