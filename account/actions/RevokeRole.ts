import { Action, conflict, notFound, ok, type ActionResponse, type Fields } from "vera-service";
import { ACCOUNT_MESSAGES, accounts, namedAccount, requirePermission, roleChangeAnswer, roleChangeRefused, roleChangeSchema, type PermittedContext } from "../core.ts";

export class RevokeRole extends Action.with({
  description: "Take a role back; the account's older tokens stop working (needs roles:assign and every permission the role grants)",
  use: [requirePermission("roles:assign")],
  schema: roleChangeSchema,
  output: roleChangeAnswer,
}) {
  async run(fields: Fields<typeof RevokeRole>, ctx: PermittedContext): Promise<ActionResponse> {
    const user = await namedAccount(ctx, fields.username);
    if (!("id" in user)) return user;
    const done = await ctx.get(accounts).roles.revoke(user.id, fields.role, ctx.user.id);
    if (typeof done === "object") return roleChangeRefused(done, fields.role);
    if (done === "no such role") return notFound(ACCOUNT_MESSAGES.unknownRole);
    if (done === "not held") return conflict(ACCOUNT_MESSAGES.roleNotHeld);
    ctx.log.info({ event: "role_revoked", user_id: user.id, role: fields.role, by: ctx.user.id }, "role revoked");
    return ok(ACCOUNT_MESSAGES.roleRevoked, { username: user.username, role: fields.role });
  }
}
