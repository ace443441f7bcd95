import { Action, conflict, notFound, ok, type ActionResponse, type Fields } from "vera-service";
import { ACCOUNT_MESSAGES, accounts, namedAccount, requirePermission, roleChangeAnswer, roleChangeRefused, roleChangeSchema, type PermittedContext } from "../core.ts";

export class AssignRole extends Action.with({
  description: "Give an account a role (needs roles:assign and every permission the role grants)",
  use: [requirePermission("roles:assign")],
  schema: roleChangeSchema,
  output: roleChangeAnswer,
}) {
  async run(fields: Fields<typeof AssignRole>, ctx: PermittedContext): Promise<ActionResponse> {
    const user = await namedAccount(ctx, fields.username);
    if (!("id" in user)) return user;
    const done = await ctx.get(accounts).roles.grant(user.id, fields.role, ctx.user.id);
    if (typeof done === "object") return roleChangeRefused(done, fields.role);
    if (done === "no such role") return notFound(ACCOUNT_MESSAGES.unknownRole);
    if (done === "held") return conflict(ACCOUNT_MESSAGES.roleHeld);
    ctx.log.info({ event: "role_assigned", user_id: user.id, role: fields.role, by: ctx.user.id }, "role assigned");
    return ok(ACCOUNT_MESSAGES.roleAssigned, { username: user.username, role: fields.role });
  }
}
