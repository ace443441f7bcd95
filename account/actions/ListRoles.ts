import { z } from "zod/v4";
import { Action, ok, type ActionResponse, type Fields } from "vera-service";
import { ACCOUNT_MESSAGES, accounts, requirePermission, type PermittedContext } from "../core.ts";

export class ListRoles extends Action.with({
  description: "The roles, their permissions and holders (needs roles:read)",
  use: [requirePermission("roles:read")],
  schema: z.object({}),
}) {
  async run(_fields: Fields<typeof ListRoles>, ctx: PermittedContext): Promise<ActionResponse> {
    return ok(ACCOUNT_MESSAGES.rolesListed, { roles: await ctx.get(accounts).roles.list() });
  }
}
