import { z } from "zod";
import { Action, type Fields, type UserContext } from "../src/actions/action.ts";
import { ok, unauthorized, type ActionResponse } from "../src/actions/responses.ts";
import { confirmPassword } from "../src/auth/confirm-password.ts";
import { OUTER_BOUNDS } from "../src/auth/limits.ts";
import { ACCOUNT_MESSAGES } from "../src/auth/messages.ts";

export class Delete extends Action {
  static override description =
    "Delete your account; its tokens stop working";
  static override requiresUser = true;
  static override schema = z.object({
    password: z.string().min(1).max(OUTER_BOUNDS.password).describe("Your password"),
  });

  async run(fields: Fields<typeof Delete>, ctx: UserContext): Promise<ActionResponse> {
    const refused = await confirmPassword(ctx, fields.password, "password");
    if (refused) return refused;
    // Soft delete: the row stays, its identifiers leave the live-account unique indexes, and its
    // cut-off time refuses every token issued so far (deleted_at alone would do; both say it).
    if (!(await ctx.services.users.softDelete(ctx.user.id, new Date()))) {
      return unauthorized(ACCOUNT_MESSAGES.invalidToken("unknown account"));
    }
    ctx.log.info({ event: "user_deleted", user_id: ctx.user.id, jti: ctx.claims.jti }, "user deleted");
    return ok(ACCOUNT_MESSAGES.deleted);
  }
}
