/** What AssignRole and RevokeRole share: the fields, and finding the account they name. */
import { z } from "zod/v4";
import { conflict, forbidden, notFound, type ActionResponse } from "vera-service";
import { accounts } from "./accounts.ts";
import { normalizeUsername } from "./identifiers.ts";
import { OUTER_BOUNDS } from "./limits.ts";
import { ACCOUNT_MESSAGES } from "./messages.ts";
import { ROLE_NAME, type RoleChangeRefusal } from "./roles.ts";
import type { User } from "./schema.ts";
import type { PermittedContext } from "./guard.ts";

/** What AssignRole and RevokeRole answer with. */
export const roleChangeAnswer = z.object({ username: z.string().nullable(), role: z.string() });

export const roleChangeSchema = z.object({
  username: z.string().min(1).max(OUTER_BOUNDS.username).describe("The account"),
  role: z.string().min(1).max(64).regex(ROLE_NAME, "must be a role name (a-z, 0-9, - and _)").describe("The role"),
});

/** A grant or revocation the escalation rule refused (account/roles.ts): 403 naming the permission lacking, or 409 for the last holder of `*`. */
export function roleChangeRefused(refusal: RoleChangeRefusal, role: string): ActionResponse {
  return refusal.refused === "missing permission" ? forbidden(ACCOUNT_MESSAGES.forbiddenEscalation(role, refusal.permission)) : conflict(ACCOUNT_MESSAGES.lastStarHolder);
}

/** The live account with that username, or the 404 to answer. */
export async function namedAccount(ctx: PermittedContext, username: string): Promise<User | ActionResponse> {
  const user = await ctx.get(accounts).users.findLive({ kind: "username", normalized: normalizeUsername(username), typed: username });
  return user ?? notFound(ACCOUNT_MESSAGES.unknownUser);
}
